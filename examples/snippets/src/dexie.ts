import { createSatchel } from '@satchel/sdk';
import { dexieStorage, SATCHEL_DEXIE_SCHEMA } from '@satchel/sdk/dexie';
import Dexie from 'dexie';

const db = new Dexie('my-player');
db.version(1).stores({ videos: '++id, title' });
db.version(2).stores({ ...SATCHEL_DEXIE_SCHEMA }); // the version that introduces Satchel

export const satchel = createSatchel({ baseUrl: 'https://sync.example.com/', storage: dexieStorage(db) });
