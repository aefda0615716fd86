// node oracle.mjs DIR 0|1 : prints the root CID ipfs-unixfs-importer computes for DIR (hidden files included,
// .git skipped), as `ipfs add -r --hidden --cid-version=V DIR` would.
import { importer } from 'ipfs-unixfs-importer'
import fs from 'node:fs'
import path from 'node:path'

const [dir, version] = process.argv.slice(2)
const blocks = new Map()
const blockstore = {
  async put (cid, bytes) { blocks.set(cid.toString(), bytes); return cid },
  async get (cid) { return blocks.get(cid.toString()) },
  async has (cid) { return blocks.has(cid.toString()) }
}
function * walk (root, rel) {
  const here = path.join(root, rel)
  const entries = fs.readdirSync(here, { withFileTypes: true })
  if (rel !== '') yield { path: rel }
  for (const e of entries) {
    if (rel === '' && e.name === '.git') continue
    const r = rel === '' ? e.name : rel + '/' + e.name
    if (e.isDirectory()) yield * walk(root, r)
    else if (e.isFile()) yield { path: r, content: fs.readFileSync(path.join(root, r)) }
  }
}
const base = path.basename(dir)
const source = [...walk(dir, '')].map(e => ({ ...e, path: base + (e.path ? '/' + e.path : '') }))
source.unshift({ path: base })
const options = version === '0' ? { cidVersion: 0, rawLeaves: false, profile: 'unixfs-v0-2015' } : {}
let root
for await (const entry of importer(source, blockstore, options)) root = entry
console.log(root.cid.toString())
