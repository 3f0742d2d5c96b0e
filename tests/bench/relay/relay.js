#!/usr/bin/env node
// A Redis pub/sub -> WebSocket relay written the way such relays usually are
// (Node.js, `ws` and `ioredis` from npm). It is a measuring stick for
// `make bench-compare` (tests/bench/gateway.py --compare), not a product:
// it speaks only the subset of the gateway protocol (docs/PROTOCOL.md part 2)
// that tests/bench/gwload uses:
//
//   client -> relay  {"op":"subscribe","id":N,"channels":["a","b",...]}
//                    {"op":"unsubscribe","id":N,"channels":[...]}
//   relay -> client  {"op":"subscribed","channels":[...],"id":N}
//                    {"op":"unsubscribed","channels":[...],"id":N}
//                    {"channel":C,"data":{...}}        one per published message
//                    {"op":"error","error":"...","id":N}
//
// No history, no patterns, no tokens, no batching, no slow-client policy:
// one ioredis subscriber connection, a Map channel -> Set of sockets,
// SUBSCRIBE on a channel's first interest and UNSUBSCRIBE when the last
// socket leaves, and every message parsed and re-stringified once and sent
// to each socket that asked for its channel.
//
// Usage: node relay.js [--port 8080] [--host 127.0.0.1] [--redis-port 6379]
//                      [--redis-host 127.0.0.1]
// or the environment: PORT, HOST, REDIS_PORT, REDIS_HOST.
// GET /healthz answers 200 once Redis is connected; GET /metrics gives
// relay_connections, relay_redis_channels and relay_messages_out_total (data
// messages handed to ws.send, for the benchmark); WebSockets on /ws.
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');
const Redis = require('ioredis');

function opt(name, env, dflt) {
    const i = process.argv.indexOf('--' + name);
    if (i > 0 && i + 1 < process.argv.length) return process.argv[i + 1];
    return process.env[env] || dflt;
}

const port = Number(opt('port', 'PORT', 8080));
const host = opt('host', 'HOST', '127.0.0.1');
const redisPort = Number(opt('redis-port', 'REDIS_PORT', 6379));
const redisHost = opt('redis-host', 'REDIS_HOST', '127.0.0.1');

const sub = new Redis({ host: redisHost, port: redisPort });
const subscribers = new Map(); // channel -> Set of WebSocket
let redisReady = false;
let messagesOut = 0; // instrumentation for the benchmark: ws.send calls of data messages

sub.on('ready', () => { redisReady = true; });
sub.on('end', () => { redisReady = false; });
sub.on('error', (err) => console.error('redis error:', err.message));

sub.on('message', (channel, message) => {
    const sockets = subscribers.get(channel);
    if (!sockets) return;
    let data;
    try {
        data = JSON.parse(message);
    } catch (err) {
        return; // not JSON: drop it
    }
    const out = JSON.stringify({ channel, data });
    for (const ws of sockets) {
        if (ws.readyState === WebSocket.OPEN) {
            ws.send(out);
            messagesOut++;
        }
    }
});

async function subscribe(ws, channels) {
    const fresh = [];
    for (const ch of channels) {
        let set = subscribers.get(ch);
        if (!set) {
            set = new Set();
            subscribers.set(ch, set);
            fresh.push(ch);
        }
        set.add(ws);
        ws.channels.add(ch);
    }
    if (fresh.length) await sub.subscribe(...fresh);
}

async function unsubscribe(ws, channels) {
    const gone = [];
    for (const ch of channels) {
        const set = subscribers.get(ch);
        ws.channels.delete(ch);
        if (!set) continue;
        set.delete(ws);
        if (set.size === 0) {
            subscribers.delete(ch);
            gone.push(ch);
        }
    }
    if (gone.length) await sub.unsubscribe(...gone);
}

const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
        res.writeHead(redisReady ? 200 : 503, { 'Content-Type': 'text/plain' });
        res.end(redisReady ? 'ok\n' : 'redis not connected\n');
        return;
    }
    if (req.url === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`relay_connections ${wss.clients.size}\n` +
                `relay_redis_channels ${subscribers.size}\n` +
                `relay_messages_out_total ${messagesOut}\n`);
        return;
    }
    res.writeHead(404);
    res.end();
});

const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 65536 });

wss.on('connection', (ws) => {
    ws.channels = new Set();

    ws.on('message', async (raw, isBinary) => {
        let msg;
        try {
            msg = JSON.parse(raw.toString());
        } catch (err) {
            ws.send(JSON.stringify({ op: 'error', error: 'bad JSON' }));
            return;
        }
        const id = msg.id;
        const channels = Array.isArray(msg.channels) ? msg.channels : null;
        if (!channels || !channels.every((c) => typeof c === 'string' && c.length > 0)) {
            ws.send(JSON.stringify({ op: 'error', error: 'channels must be strings', id }));
            return;
        }
        try {
            if (msg.op === 'subscribe') {
                await subscribe(ws, channels);
                ws.send(JSON.stringify({ op: 'subscribed', channels, id }));
            } else if (msg.op === 'unsubscribe') {
                await unsubscribe(ws, channels);
                ws.send(JSON.stringify({ op: 'unsubscribed', channels, id }));
            } else {
                ws.send(JSON.stringify({ op: 'error', error: 'unknown op', id }));
            }
        } catch (err) {
            console.error('redis error:', err.message);
            ws.send(JSON.stringify({ op: 'error', error: 'redis: ' + err.message, id }));
        }
    });

    ws.on('close', () => {
        unsubscribe(ws, [...ws.channels])
            .catch((err) => console.error('redis error:', err.message));
    });
    ws.on('error', (err) => console.error('websocket error:', err.message));
});

server.listen(port, host, () => {
    console.log(`relay listening on ${host}:${port}, redis ${redisHost}:${redisPort}`);
});

function shutdown() {
    for (const ws of wss.clients) ws.terminate();
    server.close();
    sub.disconnect();
    process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
