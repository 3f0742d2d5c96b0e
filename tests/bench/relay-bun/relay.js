// A Redis pub/sub -> WebSocket relay on Bun's built-in uWebSockets pub/sub,
// written the way Bun's users write one (Bun.serve, ws.subscribe(channel),
// server.publish(channel, frame), ioredis): a measuring stick for
// tests/bench/gateway.py --compare, never shipped. Same subset as
// ../relay/relay.js: subscribe/unsubscribe with ids and their replies,
// {"channel":C,"data":<payload as published>} per message, /healthz, /metrics.
// Usage: bun relay.js [--port 8080] [--host 127.0.0.1] [--redis-port 6379] [--redis-host H]
const Redis = require('ioredis');

function opt(name, env, dflt) {
    const i = process.argv.indexOf('--' + name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : process.env[env] || dflt;
}

const sub = new Redis({ host: opt('redis-host', 'REDIS_HOST', '127.0.0.1'),
                        port: Number(opt('redis-port', 'REDIS_PORT', 6379)) });
const interest = new Map(); // channel -> number of sockets subscribed
let redisReady = false, connections = 0, messagesOut = 0;
sub.on('ready', () => { redisReady = true; });
sub.on('end', () => { redisReady = false; });
sub.on('error', (err) => console.error('redis error:', err.message));
sub.on('message', (channel, message) => {
    server.publish(channel, '{"channel":' + JSON.stringify(channel) + ',"data":' + message + '}');
    messagesOut += interest.get(channel) || 0;
});

function join(ws, channels) { // SUBSCRIBE in Redis on a channel's first interest
    const fresh = [];
    for (const ch of channels) {
        if (ws.data.channels.has(ch)) continue;
        ws.data.channels.add(ch);
        ws.subscribe(ch);
        const n = interest.get(ch) || 0;
        interest.set(ch, n + 1);
        if (n === 0) fresh.push(ch);
    }
    return fresh.length ? sub.subscribe(...fresh) : null;
}

function leave(ws, channels) { // UNSUBSCRIBE on its last
    const gone = [];
    for (const ch of channels) {
        if (!ws.data.channels.delete(ch)) continue;
        if (!ws.data.closed) ws.unsubscribe(ch);
        const n = interest.get(ch) - 1;
        if (n > 0) interest.set(ch, n);
        else { interest.delete(ch); gone.push(ch); }
    }
    return gone.length ? sub.unsubscribe(...gone) : null;
}

const server = Bun.serve({
    hostname: opt('host', 'HOST', '127.0.0.1'),
    port: Number(opt('port', 'PORT', 8080)),
    fetch(req, server) {
        const path = new URL(req.url).pathname;
        if (path === '/ws' && server.upgrade(req, { data: { channels: new Set(), closed: false } }))
            return;
        if (path === '/healthz')
            return new Response(redisReady ? 'ok\n' : 'redis not connected\n', { status: redisReady ? 200 : 503 });
        if (path === '/metrics')
            return new Response(`relay_connections ${connections}\nrelay_redis_channels ${interest.size}\n` +
                                `relay_messages_out_total ${messagesOut}\n`);
        return new Response('not found\n', { status: 404 });
    },
    websocket: {
        maxPayloadLength: 65536,
        open() { connections++; },
        async message(ws, raw) {
            let msg;
            try { msg = JSON.parse(raw); } catch (err) { return ws.send('{"op":"error","error":"bad JSON"}'); }
            const { op, id, channels } = msg;
            if (!Array.isArray(channels) || !channels.every((c) => typeof c === 'string' && c.length > 0))
                return ws.send(JSON.stringify({ op: 'error', error: 'channels must be strings', id }));
            if (op !== 'subscribe' && op !== 'unsubscribe')
                return ws.send(JSON.stringify({ op: 'error', error: 'unknown op', id }));
            try {
                await (op === 'subscribe' ? join(ws, channels) : leave(ws, channels));
                ws.send(JSON.stringify({ op: op + 'd', channels, id }));
            } catch (err) {
                ws.send(JSON.stringify({ op: 'error', error: 'redis: ' + err.message, id }));
            }
        },
        close(ws) {
            connections--;
            ws.data.closed = true;
            leave(ws, [...ws.data.channels])?.catch((err) => console.error('redis error:', err.message));
        },
    },
});
console.log(`relay (bun ${Bun.version}) listening on ${server.hostname}:${server.port}`);
process.on('SIGTERM', () => { server.stop(true); sub.disconnect(); process.exit(0); });
