// The WebSocket to the gateway (/ws on the page's own origin): reconnects
// with exponential backoff and full jitter after any close, detects a dead
// connection with an application-level ping, and reports its state.

const BASE_MS = 500;
const MAX_MS = 15000;
const PING_IDLE_MS = 10000; // nothing received this long: send a request
const PING_DEAD_MS = 10000; // and nothing after it this long: reconnect

export class Connection {
  /**
   * handlers: onOpen(), onMessage(obj), onState(state)
   */
  constructor(url, handlers) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.attempt = 0;
    this.state = 'connecting'; // connecting | connected | reconnecting
    this.retryAt = 0; // Date.now() of the next attempt while reconnecting
    this.connects = 0; // successful opens
    this.lastRx = 0;
    this.pingSent = 0;
    this.nextId = 1;
    this.timer = null;
    this.watchdog = setInterval(() => this.check(), 1000);
    setTimeout(() => this.open(), 0); // after the caller has stored this object
  }

  setState(s) {
    this.state = s;
    this.h.onState?.(this);
  }

  open() {
    this.timer = null;
    this.setState(this.connects ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    this.retryAt = 0;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.connects++;
      this.lastRx = Date.now();
      this.pingSent = 0;
      this.setState('connected');
      this.h.onOpen?.();
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.lastRx = Date.now();
      this.pingSent = 0;
      let v;
      try {
        v = JSON.parse(ev.data);
      } catch {
        return;
      }
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m && typeof m === 'object') this.h.onMessage(m);
      }
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.schedule();
    };
    ws.onerror = () => {}; // a close follows
  }

  schedule() {
    const cap = Math.min(MAX_MS, BASE_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** Seconds until the next attempt (0 when connecting now). */
  retryIn() {
    return this.retryAt ? Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000)) : 0;
  }

  check() {
    if (this.state !== 'connected' || !this.ws) {
      this.h.onState?.(this); // refreshes the countdown
      return;
    }
    const now = Date.now();
    if (!this.pingSent && now - this.lastRx > PING_IDLE_MS) {
      this.pingSent = now;
      this.send({ op: 'unsubscribe', channels: [], id: 'ping' });
    } else if (this.pingSent && now - this.pingSent > PING_DEAD_MS) {
      const ws = this.ws;
      this.ws = null;
      try {
        ws.close();
      } catch {}
      this.schedule();
    }
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    if (obj.id === undefined) obj.id = this.nextId++;
    this.ws.send(JSON.stringify(obj));
    return obj.id;
  }

  get open_() {
    return this.state === 'connected';
  }
}
