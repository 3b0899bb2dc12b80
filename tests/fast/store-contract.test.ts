/** The VectorStore contract run on the folder store through openStore. */
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import { storeContract } from '../helpers/store-contract.ts';
import { tmpDir } from '../helpers/tmp.ts';

storeContract('folder store', {
  fresh: async () => path.join(tmpDir(), 'contract.lkx'),
  open: (location, opts) => openStore(location, opts),
});
