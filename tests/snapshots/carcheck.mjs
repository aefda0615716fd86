// node carcheck.mjs FILE.car : checks a CARv1 — one root, every block's hash matches its CID — and prints
// "<root> <blocks>".
import { CarReader } from '@ipld/car'
import { sha256 } from 'multiformats/hashes/sha2'
import fs from 'node:fs'
const reader = await CarReader.fromBytes(fs.readFileSync(process.argv[2]))
const roots = await reader.getRoots()
if (roots.length !== 1) throw new Error('roots: ' + roots.length)
let n = 0
for await (const { cid, bytes } of reader.blocks()) {
  const digest = await sha256.digest(bytes)
  if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) throw new Error('bad block ' + cid)
  n++
}
console.log(roots[0].toString(), n)
