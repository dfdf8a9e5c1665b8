import { SatchelProvider } from '@satchel/react';
import { createSatchel } from '@satchel/sdk';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';

// One client for the page's lifetime, created outside React; the provider hands it to the hooks.
const satchel = createSatchel({ baseUrl: `${location.origin}/` });

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <SatchelProvider client={satchel}>
      <App />
    </SatchelProvider>
  </StrictMode>,
);
