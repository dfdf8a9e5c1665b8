import { createSatchel } from '@satchel/sdk';

export const satchel = createSatchel({
  baseUrl: 'https://sync.example.com/',
  logger: { log: (level, message, data) => console[level === 'debug' ? 'debug' : level](message, data) },
});
