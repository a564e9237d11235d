// Hocuspocus 4.7 as measured beside Orpheus in bench/collab/run.py: the stock `Server`, no
// extensions (documents in memory, nothing stored), quiet. Any path's document name is the
// one the provider sends, so clients use the same room names as with the other servers.
//
// Usage: PORT=8002 HOST=127.0.0.1 node bench/collab/peers/hocuspocus.mjs
import { Server } from '@hocuspocus/server'

const server = new Server({
  port: Number(process.env.PORT ?? 8002),
  address: process.env.HOST ?? '127.0.0.1',
  quiet: true,
  stopOnSignals: true
})
await server.listen()
console.log(`hocuspocus listening on ${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8002}`)
