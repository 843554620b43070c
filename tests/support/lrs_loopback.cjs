'use strict';
// Preloaded with `node --require` by tests/support/lrs.py: every TCP server in the process listens on
// 127.0.0.1 only. xapi-statements calls `app.listen(port, callback)` (dist/server.js), which Node binds
// to all interfaces, and no setting of it chooses the host. http.Server inherits net.Server's listen,
// so patching it here covers Express. Unix sockets (a path) and inherited handles are left alone.
const net = require('net');

const HOST = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return value == null || typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (args.length === 0 || typeof first === 'function') {
    // listen() or listen(callback): a random port, on loopback.
    return originalListen.call(this, 0, HOST, ...args);
  }
  if (isPort(first)) {
    // listen(port[, host][, backlog][, callback]): replace any host given, else insert ours.
    const rest = args.slice(1);
    if (rest.length > 0 && (typeof rest[0] === 'string' || rest[0] == null)) {
      rest.shift();
    }
    return originalListen.call(this, first == null ? 0 : first, HOST, ...rest);
  }
  if (typeof first === 'object' && first.path === undefined && first.fd === undefined && first._handle === undefined &&
      first.handle === undefined) {
    // listen(options[, callback]) for a TCP port.
    return originalListen.call(this, { ...first, host: HOST }, ...args.slice(1));
  }
  return originalListen.apply(this, args);
};
