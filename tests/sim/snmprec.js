// The .snmprec of a simulated device for tests/sim/simagent (and
// snmpsimd): sysUpTime, then per interface ifDescr, ifOperStatus up,
// ifName ge-0/0/I, 64-bit counters growing at 1000 x (d+1) x I octets/s
// in and half that out, ifHighSpeed 10 Gb/s. Records sorted by OID.
// Shared by tests/soak/soak.js and tests/system/.
'use strict';

function snmprec(interfaces, d) {
  const recs = [['1.3.6.1.2.1.1.3.0', '67:numeric', 'rate=100']];
  for (let i = 1; i <= interfaces; i++) {
    recs.push(
      [`1.3.6.1.2.1.2.2.1.2.${i}`, '4', `Ethernet${i}`],
      [`1.3.6.1.2.1.2.2.1.8.${i}`, '2', '1'],
      [`1.3.6.1.2.1.31.1.1.1.1.${i}`, '4', `ge-0/0/${i}`],
      [`1.3.6.1.2.1.31.1.1.1.6.${i}`, '70:numeric', `rate=${1000 * (d + 1) * i},initial=5`],
      [`1.3.6.1.2.1.31.1.1.1.10.${i}`, '70:numeric', `rate=${500 * (d + 1) * i},initial=5`],
      [`1.3.6.1.2.1.31.1.1.1.15.${i}`, '66', '10000'],
    );
  }
  const key = (o) => o.split('.').map(Number);
  recs.sort((a, b) => {
    const x = key(a[0]);
    const y = key(b[0]);
    for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
    return x.length - y.length;
  });
  return recs.map((r) => r.join('|')).join('\n') + '\n';
}

module.exports = { snmprec };
