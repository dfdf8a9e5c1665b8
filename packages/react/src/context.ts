import type { SatchelClient } from '@satchel/sdk';
import { createContext, createElement, type ReactNode, useContext } from 'react';

/**
 * The React context that carries the {@link SatchelClient} (like PowerSync's `PowerSyncContext`). Most
 * apps use {@link SatchelProvider} rather than this directly.
 */
export const SatchelContext = createContext<SatchelClient | null>(null);

/** Props of {@link SatchelProvider}. */
export interface SatchelProviderProps {
  /** The client from `createSatchel`; create it once (outside the component, or in a `useState` initialiser). */
  client: SatchelClient;
  children?: ReactNode;
}

/**
 * Makes `client` available to the hooks below it. The provider neither creates nor closes the client: its
 * owner does (`await client.close()` when the app shuts down).
 */
export function SatchelProvider({ client, children }: SatchelProviderProps): ReactNode {
  return createElement(SatchelContext.Provider, { value: client }, children);
}

/**
 * The client of the nearest {@link SatchelProvider}, for calls the hooks do not make (`register`,
 * `requestDownload`, `startPlayback`, `sync`…).
 * @throws {Error} when no `SatchelProvider` is above the component.
 */
export function useSatchel(): SatchelClient {
  const client = useContext(SatchelContext);
  if (client === null) throw new Error('useSatchel: wrap the component in <SatchelProvider client={…}>');
  return client;
}
