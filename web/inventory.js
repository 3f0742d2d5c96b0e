// The inventory the gateway lists (sites, devices, interfaces): indexes it
// into the shared state and answers "which device / site is this channel
// on". Not the picker (picker.js draws it) and not the request for it
// (messages.js asks the gateway).

import { app } from './state.js';

/** Indexes a listed inventory: chanInfo, devChannels, siteInfo, and the
 * devices' status where no live state is held. */
export function loadInventory(inv) {
  app.inventory = inv;
  app.prefix = inv.prefix || app.prefix || 'ifmon';
  app.chanInfo.clear();
  app.devChannels.clear();
  app.devEvents.clear();
  app.siteInfo.clear();
  for (const site of inv.sites || []) {
    const si = { name: site.name, devices: site.devices || [], channels: [], totals: [] };
    for (const dev of si.devices) {
      app.devChannels.add(dev.channel);
      if (dev.events) app.devEvents.add(dev.events);
      if (!app.devStatus.has(dev.channel) || !app.subscribed.has(dev.channel)) {
        app.devStatus.set(dev.channel, { status: dev.status, error: null });
      }
      for (const itf of dev.interfaces || []) {
        app.chanInfo.set(itf.channel, {
          site: site.name, device: dev.name, iface: itf.name, descr: itf.descr, alias: itf.alias || '',
          speed: itf.speed_bps ?? null, interval: dev.interval || 1, devChannel: dev.channel,
          siteTotal: itf.site_total === true, counters: Array.isArray(dev.counters) ? dev.counters : null,
        });
        si.channels.push(itf.channel);
        if (itf.site_total === true) si.totals.push(itf.channel);
      }
    }
    app.siteInfo.set(site.name, si);
  }
}

/** The device channel of an interface channel (null if it cannot tell). */
export function deviceChannelOf(ch) {
  const info = app.chanInfo.get(ch);
  if (info) return info.devChannel;
  // Not in the inventory (yet): <prefix>:<device>:<interface>; a device
  // name never contains ':'.
  const a = ch.indexOf(':');
  const b = a < 0 ? -1 : ch.indexOf(':', a + 1);
  return b > 0 ? ch.slice(0, b) : null;
}

/** The interface channel of (device, interface) in the inventory, or the
 * name it would have. */
export function channelOf(device, iface) {
  return `${app.prefix || 'ifmon'}:${device}:${iface}`;
}

/** The live-only pattern of a device's interface channels. */
export function devicePattern(devChannel) {
  return `${devChannel}:*`;
}

/** The site of an interface channel: from the inventory, else from its
 * samples; null if neither knows. */
export function siteOf(ch) {
  return app.chanInfo.get(ch)?.site ?? app.series.get(ch)?.site ?? null;
}
