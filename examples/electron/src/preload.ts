import { contextBridge, ipcRenderer } from 'electron';
import { type BridgeRequest, type BridgeResponse, CHANNEL, type SatchelBridge } from './bridge.js';

const config = ipcRenderer.sendSync(CHANNEL.config) as Pick<SatchelBridge, 'serverUrl' | 'enrolmentToken'>;

const bridge: SatchelBridge = {
  ...config,
  fetch: (request: BridgeRequest) => ipcRenderer.invoke(CHANNEL.fetch, request) as Promise<BridgeResponse>,
  onWake: (listener) => {
    ipcRenderer.on(CHANNEL.wake, () => listener());
  },
  onQuit: (listener) => {
    ipcRenderer.once(CHANNEL.quit, () => listener());
  },
  closed: () => ipcRenderer.send(CHANNEL.closed),
};

contextBridge.exposeInMainWorld('satchelNet', bridge);
