// The node peer of section 4: a bare socket.io server with the Redis adapter, nothing of Herald's.
//
// `node bench/node_peer/server.js`, started by bench/socketsuite.py with HERALD_PUSHER_PORT, REDIS_URL and
// BENCH_NODE_KEY (the adapter's key prefix, one per run). Like bench/bare_pusher.py: no auth, a socket joins
// the room named by its `room` query argument. Events reach it from bench/node_peer/emit.js through
// @socket.io/redis-emitter, as a node site's workers would publish them.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.env.HERALD_PUSHER_PORT);
const key = process.env.BENCH_NODE_KEY;
if (!port || !key || !process.env.REDIS_URL) {
  console.error("HERALD_PUSHER_PORT, BENCH_NODE_KEY and REDIS_URL are required");
  process.exit(2);
}

async function main() {
  const pubClient = createClient({ url: process.env.REDIS_URL });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) {
    client.on("error", (err) => console.error(`redis: ${err.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient, { key }),
    // The load clients open websockets directly, as Herald's clients do after the handshake.
    transports: ["polling", "websocket"],
    maxHttpBufferSize: 16 * 1024,
  });
  io.on("connection", (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room === "string" && room) {
      socket.join(room);
    }
  });

  const stop = () => {
    io.close();
    Promise.allSettled([pubClient.quit(), subClient.quit()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  httpServer.listen(port, "127.0.0.1", () => {
    console.error(`node peer listening port=${port} key=${key} node=${process.version}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
