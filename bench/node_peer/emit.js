// Publishes section 4's events for the node peer with @socket.io/redis-emitter, as a node site's workers would.
//
// `node bench/node_peer/emit.js`, driven by bench/socketsuite.py with JSON lines on stdin. The first line is its
// configuration: {"redis_url", "key", "rooms": [[room, room], ...] (per user), "template": envelope}. Then:
//   {"cmd": "paced", "first": seq, "rate": r, "seconds": s}  r events/s for s seconds
//   {"cmd": "burst", "first": seq}                           one event to every user, as fast as it goes
//   {"cmd": "quit"}
// Event seq goes to user seq % users (both rooms of that user: one publish), as bench.socketsuite.Publisher does,
// and carries bench_seq and bench_t: the monotonic clock (CLOCK_MONOTONIC, the clock of Python's
// time.monotonic() on Linux) at publish, in seconds. Each command answers one JSON line when Redis has
// taken every publish (a PING after the last one).
"use strict";

const readline = require("node:readline");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const monotonic = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

let client;
let emitter;
let config;

function one(seq) {
  const rooms = config.rooms[seq % config.rooms.length];
  const data = { ...config.template.data, id: seq, unread: true, bench_seq: seq, bench_t: monotonic() };
  emitter.to(rooms).emit("herald", { ...config.template, data, sent_at: Date.now() / 1000 });
}

async function paced({ first, rate, seconds }) {
  const count = Math.floor(rate * seconds);
  const started = monotonic();
  let worstLag = 0;
  for (let i = 0; i < count; i++) {
    const delay = started + i / rate - monotonic();
    if (delay > 0.001) {
      await sleep(delay);
    } else if (delay > 0) {
      await yieldNow(); // setTimeout's floor is 1 ms; let the publish go out instead
    } else {
      worstLag = Math.max(worstLag, -delay);
      if (i % 50 === 0) await yieldNow(); // behind: catch up, but let the socket write now and then
    }
    one(first + i);
  }
  await client.ping();
  const took = monotonic() - started;
  return {
    events: count,
    publish_seconds: +took.toFixed(3),
    achieved_rate: +(count / took).toFixed(1),
    worst_publisher_lag_ms: +(worstLag * 1000).toFixed(2),
  };
}

async function burst({ first }) {
  const started = monotonic();
  const users = config.rooms.length;
  for (let i = 0; i < users; i++) {
    one(first + i);
  }
  await client.ping();
  return { events: users, publish_seconds: +(monotonic() - started).toFixed(3), t0: started };
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const message = JSON.parse(line);
    if (!config) {
      config = message;
      client = createClient({ url: config.redis_url });
      client.on("error", (err) => console.error(`redis: ${err.message}`));
      await client.connect();
      emitter = new Emitter(client, { key: config.key });
      process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
      continue;
    }
    if (message.cmd === "quit") break;
    const result = message.cmd === "paced" ? await paced(message) : await burst(message);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  if (client) await client.quit();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
