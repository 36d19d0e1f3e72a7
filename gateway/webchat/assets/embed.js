/* Switchboard web widget. Dependency-free; served by the gateway at /web/embed.js.
 *
 *   <script src="https://gateway.example.com/web/embed.js" data-connection="site"></script>
 *   Switchboard.setConfig({externalUserId, userHash, jwt, metadata, container, title});
 *   Switchboard.identify(id, attributes, userHash)   // or (id, attributes, {jwt})
 *   Switchboard.setAttributes(attributes); Switchboard.logout(); Switchboard.reset();
 *
 * The anonymous visitor's session token lives in localStorage; the token, never
 * the visitor id, authorises. Live replies arrive over Server-Sent Events read
 * with fetch() (so the token goes in a header), resumed after the last seq seen.
 */
(function (w, d) {
  'use strict';
  if (w.Switchboard && w.Switchboard.version) return;
  var script = d.currentScript || (function () { var s = d.getElementsByTagName('script'); return s[s.length - 1]; })();
  var cfg = {
    base: (script && script.src) ? new URL(script.src, location.href).origin : location.origin,
    connection: (script && script.getAttribute('data-connection')) || 'site',
    title: 'Chat', container: null, metadata: null, externalUserId: '', userHash: '', jwt: ''
  };
  var st = { sess: null, last: 0, next: null, shown: {}, ctl: null, retry: 0, started: false, gen: 0 };
  var listeners = {}, ui = null, readyResolve;
  var ready = new Promise(function (r) { readyResolve = r; });

  function key() { return 'switchboard:' + cfg.connection; }
  function saved() { try { return JSON.parse(localStorage.getItem(key()) || 'null'); } catch (e) { return null; } }
  function save(s) { try { s ? localStorage.setItem(key(), JSON.stringify(s)) : localStorage.removeItem(key()); } catch (e) {} }
  function emit(name, v) { (listeners[name] || []).forEach(function (f) { try { f(v); } catch (e) {} }); }
  function url(p) { return cfg.base + '/web/v1/' + encodeURIComponent(cfg.connection) + '/' + p; }

  function api(path, body, method) {
    var h = { 'Content-Type': 'application/json' };
    if (st.sess && path !== 'sessions') h.Authorization = 'Bearer ' + st.sess.token;
    return fetch(url(path), { method: method || 'POST', headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) { var e = new Error((j.error && j.error.message) || ('HTTP ' + r.status)); e.status = r.status; e.code = j.error && j.error.code; throw e; }
          return j;
        });
      });
  }

  // --- session ---
  function session() {
    var prev = saved(), body = { metadata: cfg.metadata || undefined };
    if (prev && prev.token) body.token = prev.token;
    if (cfg.jwt) body.jwt = cfg.jwt;
    else if (cfg.externalUserId) { body.external_user_id = cfg.externalUserId; body.user_hash = cfg.userHash; }
    return api('sessions', body).catch(function (e) {
      if (e.status !== 401 || !(cfg.jwt || cfg.externalUserId)) throw e;
      console.warn('Switchboard: identity proof refused, continuing anonymously:', e.message);
      delete body.jwt; delete body.external_user_id; delete body.user_hash;
      return api('sessions', body);
    }).then(adopt);
  }

  // adopt switches the widget to a session answer: new conversation state, history, stream.
  function adopt(s) {
    var same = st.sess && st.sess.response_path === s.response_path;
    st.sess = s; save({ token: s.token, visitor_id: s.visitor_id, response_path: s.response_path });
    emit('session', { visitor_id: s.visitor_id, response_path: s.response_path, provided_id: s.provided_id || null });
    if (same) { connect(); return s; }
    st.last = 0; st.next = null; st.shown = {}; st.gen++;
    if (ui) ui.clear();
    return loadHistory().then(function () { connect(); return s; });
  }

  function restart() {
    clearTimeout(st.pending);
    if (st.ctl) st.ctl.abort();
    st.sess = null;
    return session().catch(function (e) { emit('error', e); });
  }

  // --- history ---
  function loadHistory(older) {
    var g = st.gen, q = 'history?limit=30' + (older && st.next ? '&before=' + st.next : '');
    return api(q, undefined, 'GET').then(function (h) {
      if (g !== st.gen) return;
      st.next = h.next;
      h.events.slice().reverse().forEach(function (f) { show(f); });
      if (ui) ui.more(!!h.next);
    });
  }

  // --- live stream (SSE over fetch) ---
  function connect() {
    if (st.ctl) st.ctl.abort();
    if (!st.sess) return;
    var ctl = new AbortController(), g = st.gen;
    st.ctl = ctl;
    fetch(url('stream?after=' + st.last), { headers: { Authorization: 'Bearer ' + st.sess.token, Accept: 'text/event-stream' }, signal: ctl.signal })
      .then(function (r) {
        if (r.status === 401) { restart(); return; }
        if (!r.ok || !r.body) throw new Error('stream HTTP ' + r.status);
        st.retry = 0;
        var rd = r.body.getReader(), dec = new TextDecoder(), buf = '';
        function pump() {
          return rd.read().then(function (x) {
            if (x.done) throw new Error('stream closed');
            buf += dec.decode(x.value, { stream: true });
            var i;
            while ((i = buf.indexOf('\n\n')) >= 0) { var blk = buf.slice(0, i); buf = buf.slice(i + 2); if (event(blk, g) === false) { ctl.abort(); return; } }
            return pump();
          });
        }
        return pump();
      })
      .catch(function () {
        if (ctl.signal.aborted || st.ctl !== ctl) return;
        st.retry = Math.min(st.retry + 1, 6);
        setTimeout(function () { if (st.ctl === ctl) connect(); }, 250 * Math.pow(2, st.retry));
      });
  }

  function event(blk, g) {
    var ev = 'message', data = '';
    blk.split('\n').forEach(function (l) {
      if (l.indexOf('event:') === 0) ev = l.slice(6).trim();
      else if (l.indexOf('data:') === 0) data += l.slice(5).trim();
    });
    if (!data || g !== st.gen) return;
    var v; try { v = JSON.parse(data); } catch (e) { return; }
    if (ev === 'message') show(v);
    else if (ev === 'typing') { if (ui) ui.typing(v.on); }
    else if (ev === 'session') {
      if (v.reason === 'shutdown') return false; // reconnect with backoff
      // Revoked or moved by another tab, which is about to leave the new
      // token in localStorage: wait for it (storage event) rather than
      // racing it with a session of our own.
      clearTimeout(st.pending);
      st.pending = setTimeout(restart, v.reason === 'changed' ? 0 : 1500);
      return false;
    }
  }

  function show(f) {
    if (!f || !f.seq || st.shown[f.seq]) return;
    st.shown[f.seq] = true;
    if (f.seq > st.last) st.last = f.seq;
    if (ui) ui.add(f);
    emit('message', f);
  }

  // change runs a call that moves this browser to another session
  // (identify, logout, reset). The current stream is dropped first: the
  // server ends it when it revokes the token, and that event must not
  // restart a session this tab is replacing itself.
  function change(path, body) {
    return ready.then(function () {
      st.gen++;
      if (st.ctl) { st.ctl.abort(); st.ctl = null; }
      return api(path, body).then(adopt, function (e) { connect(); throw e; });
    });
  }

  // --- sending ---
  function send(text, payload, type) {
    if (!st.sess) return Promise.reject(new Error('not started'));
    var g = st.gen;
    return api('messages', { type: type || undefined, text: text || undefined, payload: payload || undefined })
      .then(function (a) {
        if (g === st.gen) show({ seq: a.seq, id: a.id, type: 'message', from: 'visitor', text: text, payload: payload, ts: new Date().toISOString() });
        return a;
      });
  }

  // --- UI ---
  var css = '.sbw{font:14px/1.4 system-ui,sans-serif;display:flex;flex-direction:column;background:#fff;color:#111;border:1px solid #d0d4da;border-radius:12px;overflow:hidden;box-shadow:0 6px 24px rgba(0,0,0,.12)}' +
    '.sbw-float{position:fixed;right:20px;bottom:20px;width:360px;height:520px;z-index:2147483000}' +
    '.sbw-inline{width:100%;height:100%}' +
    '.sbw-head{background:#1f4fd1;color:#fff;padding:10px 14px;font-weight:600}' +
    '.sbw-list{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px;background:#f6f7f9}' +
    '.sbw-msg{max-width:80%;padding:7px 11px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word}' +
    '.sbw-bot{align-self:flex-start;background:#fff;border:1px solid #e1e4e8}.sbw-visitor{align-self:flex-end;background:#1f4fd1;color:#fff}' +
    '.sbw-merged{opacity:.85}.sbw-more{align-self:center;font-size:12px}' +
    '.sbw-btns,.sbw-qr{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}.sbw-qr{padding:6px 10px 0}' +
    '.sbw button,.sbw a.sbw-b{font:inherit;border:1px solid #1f4fd1;color:#1f4fd1;background:#fff;border-radius:14px;padding:4px 10px;cursor:pointer;text-decoration:none}' +
    '.sbw-cards{display:flex;gap:8px;overflow-x:auto;max-width:100%;align-self:flex-start}' +
    '.sbw-card{min-width:180px;max-width:200px;background:#fff;border:1px solid #e1e4e8;border-radius:10px;overflow:hidden;padding-bottom:8px}' +
    '.sbw-card img{width:100%;height:100px;object-fit:cover;display:block}.sbw-card b,.sbw-card div,.sbw-card .sbw-btns{margin:6px 8px 0}' +
    '.sbw-img{max-width:220px;border-radius:10px;display:block}.sbw-typing{padding:0 12px;color:#667;font-size:12px;height:16px}' +
    '.sbw-form{display:flex;gap:6px;padding:8px;border-top:1px solid #e1e4e8}.sbw-form input{flex:1;font:inherit;padding:7px 10px;border:1px solid #c9ced6;border-radius:16px}';

  function el(tag, cls, text) { var e = d.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function safeURL(u) { try { var p = new URL(u, location.href); return /^(https?|tel|mailto):$/.test(p.protocol) ? p.href : null; } catch (e) { return null; } }

  function button(b) {
    var href = (b.type === 'url' || b.type === 'phone') ? safeURL(b.url) : null;
    if (href) { var a = el('a', 'sbw-b', b.title || b.url); a.href = href; a.target = '_blank'; a.rel = 'noopener noreferrer'; return a; }
    var x = el('button', null, b.title);
    x.type = 'button';
    x.onclick = function () { send(b.title, b.payload, 'postback'); };
    return x;
  }

  function buildUI() {
    var host = cfg.container ? d.querySelector(cfg.container) : null;
    var style = el('style'); style.textContent = css; d.head.appendChild(style);
    var root = el('div', 'sbw ' + (host ? 'sbw-inline' : 'sbw-float'));
    root.setAttribute('data-switchboard', cfg.connection);
    var head = el('div', 'sbw-head', cfg.title), list = el('div', 'sbw-list'), typing = el('div', 'sbw-typing');
    var qr = el('div', 'sbw-qr'), form = el('form', 'sbw-form'), input = el('input'), go = el('button', null, 'Send');
    var more = el('button', 'sbw-more', 'Earlier messages');
    input.placeholder = 'Type a message…'; input.setAttribute('aria-label', 'Message'); go.type = 'submit';
    more.type = 'button'; more.style.display = 'none';
    more.onclick = function () { var h = list.scrollHeight; loadHistory(true).then(function () { list.scrollTop = list.scrollHeight - h; }); };
    form.appendChild(input); form.appendChild(go);
    form.onsubmit = function (e) { e.preventDefault(); var t = input.value.trim(); if (!t) return; input.value = ''; send(t).catch(function (x) { emit('error', x); }); };
    list.appendChild(more);
    [head, list, typing, qr, form].forEach(function (x) { root.appendChild(x); });
    (host || d.body).appendChild(root);
    var nodes = {}; // seq -> element, to insert history pages and live frames in order
    return {
      clear: function () { Object.keys(nodes).forEach(function (k) { nodes[k].remove(); }); nodes = {}; qr.textContent = ''; typing.textContent = ''; more.style.display = 'none'; },
      more: function (v) { more.style.display = v ? '' : 'none'; },
      typing: function (on) { typing.textContent = on ? 'typing…' : ''; },
      add: function (f) {
        var node = render(f);
        var after = null, best = 0;
        Object.keys(nodes).forEach(function (k) { k = +k; if (k > f.seq && (!best || k < best)) best = k; });
        if (best) after = nodes[best];
        list.insertBefore(node, after);
        nodes[f.seq] = node;
        var newest = Math.max.apply(null, Object.keys(nodes).map(Number));
        if (f.seq === newest) {
          typing.textContent = '';
          qr.textContent = '';
          (f.from === 'bot' ? f.quick_replies || [] : []).forEach(function (q) {
            var b = el('button', null, q.title); b.type = 'button';
            b.onclick = function () { qr.textContent = ''; send(q.title, q.payload, 'quick_reply'); };
            qr.appendChild(b);
          });
          list.scrollTop = list.scrollHeight;
        }
      }
    };
  }

  function render(f) {
    var box = el('div', 'sbw-item'), who = f.from === 'visitor' ? 'sbw-visitor' : 'sbw-bot';
    box.style.display = 'flex'; box.style.flexDirection = 'column'; box.setAttribute('data-seq', f.seq);
    if (f.text || (f.buttons && f.buttons.length)) {
      var m = el('div', 'sbw-msg ' + who + (f.merged_from ? ' sbw-merged' : ''), f.text || '');
      if (f.buttons && f.buttons.length) { var bs = el('div', 'sbw-btns'); f.buttons.forEach(function (b) { bs.appendChild(button(b)); }); m.appendChild(bs); }
      box.appendChild(m);
    }
    (f.attachments || []).forEach(function (a) {
      var href = safeURL(a.url); if (!href) return;
      if (a.type === 'image') { var i = el('img', 'sbw-img'); i.src = href; i.alt = ''; box.appendChild(i); }
      else { var l = el('a', 'sbw-msg ' + who, a.type + ': ' + href); l.href = href; l.target = '_blank'; l.rel = 'noopener noreferrer'; box.appendChild(l); }
    });
    if (f.cards && f.cards.length) {
      var cs = el('div', 'sbw-cards');
      f.cards.forEach(function (c) {
        var card = el('div', 'sbw-card'), img = c.image_url && safeURL(c.image_url);
        if (img) { var i = el('img'); i.src = img; i.alt = ''; card.appendChild(i); }
        if (c.title) card.appendChild(el('b', null, c.title));
        if (c.subtitle) card.appendChild(el('div', null, c.subtitle));
        if (c.buttons && c.buttons.length) { var bs = el('div', 'sbw-btns'); c.buttons.forEach(function (b) { bs.appendChild(button(b)); }); card.appendChild(bs); }
        cs.appendChild(card);
      });
      box.appendChild(cs);
    }
    if (f.from === 'visitor' && !f.text && f.payload) box.appendChild(el('div', 'sbw-msg sbw-visitor', f.payload));
    return box;
  }

  // --- page API ---
  function start() {
    if (st.started) return ready;
    st.started = true;
    ui = buildUI();
    w.addEventListener('storage', function (e) {
      if (e.key !== key() || !st.sess) return;
      var s = saved();
      if (s && s.token !== st.sess.token) restart(); // another tab identified or logged out
    });
    session().then(function () { readyResolve(api); }, function (e) { emit('error', e); readyResolve(api); });
    return ready;
  }

  var Switchboard = {
    version: '1',
    ready: ready,
    setConfig: function (c) {
      c = c || {};
      var idChanged = ('externalUserId' in c && c.externalUserId !== cfg.externalUserId) || ('jwt' in c && c.jwt !== cfg.jwt);
      Object.keys(c).forEach(function (k) { cfg[k] = c[k]; });
      if (!st.started) return;
      if (idChanged && (cfg.jwt || cfg.externalUserId)) Switchboard.identify(cfg.externalUserId, null, cfg.jwt ? { jwt: cfg.jwt } : cfg.userHash);
      else if ('metadata' in c) api('sessions', { token: st.sess && st.sess.token, metadata: cfg.metadata || undefined }).catch(function () {});
    },
    identify: function (id, attributes, proof) {
      var body = { id: id || undefined, attributes: attributes || undefined };
      if (proof && typeof proof === 'object') { body.jwt = proof.jwt; body.user_hash = proof.userHash; } else body.user_hash = proof;
      return change('identify', body);
    },
    setAttributes: function (attributes) { return ready.then(function () { return api('attributes', { attributes: attributes }); }); },
    logout: function () {
      cfg.externalUserId = ''; cfg.userHash = ''; cfg.jwt = '';
      return change('logout', {}).catch(function () { save(null); return restart(); });
    },
    reset: function () { return change('reset', {}); },
    send: function (text) { return ready.then(function () { return send(text); }); },
    on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
    session: function () { return st.sess && { visitor_id: st.sess.visitor_id, response_path: st.sess.response_path, provided_id: st.sess.provided_id || null }; },
    start: start
  };
  w.Switchboard = Switchboard;
  // Start after the page's own scripts had a chance to call setConfig.
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', function () { setTimeout(start, 0); });
  else setTimeout(start, 0);
})(window, document);
