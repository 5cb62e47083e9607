// 12333 softphone: dials the hotline through /phone/api, sends keys Gather by Gather (or
// words, where the Gather listens for speech), plays what the hotline says and shows the
// call (drawing is in phone-view.js).
'use strict';

const API = '/phone/api';
const PHONE_KEYS = '0123456789*#';
const state = {
  call: null,          // the last Call JSON (id, ended, end_state, node, waiting)
  phase: 'idle',       // idle | dialling | up | ended
  busy: false,         // a request is in flight
  pending: '',         // keys typed ahead, not yet taken by a Gather
  entry: '',           // keys of the Gather being filled in
  hangupAfter: false,  // hang up once the request in flight returns
  exchanges: 0,        // webhook requests shown in the developer panel
  drawn: 0,            // turns of the current call drawn so far (the server's whole transcript)
};
const audio = { queue: [], current: null, blocked: false };
const menu = { boxes: new Map(), types: null, current: null };  // menu tree: node boxes, types
let el = {};

// Call the JSON API; throw an Error carrying the server's message and HTTP status.
async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    // Always JSON: the server refuses a change in any other type, which a form or another
    // site's simple fetch could send.
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body || {});
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (err) {
    throw new Error(`network error: ${err.message}`);
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON: reported below */ }
  if (!res.ok || data === null) {
    const why = (data && data.error) || res.statusText || 'the answer was not JSON';
    const error = new Error(`${why} (HTTP ${res.status})`);
    error.status = res.status;
    throw error;
  }
  return data;
}

// Show a line in the status bar; kind is '', 'busy', 'ended', 'hint' or 'error'.
function setStatus(text, kind = '') {
  el.status.textContent = text;
  el.status.className = `status ${kind}`.trim();
}

// Show an error message from a failed request.
function showError(err) {
  setStatus(`Error: ${err.message}`, 'error');
}

// Describe the call's state in the status bar.
function refreshStatus() {
  const call = state.call;
  if (state.phase === 'idle') return setStatus('Idle — press Dial');
  if (state.phase === 'ended') return setStatus(`Call ended (${call?.end_state || 'unknown'})`, 'ended');
  if (state.hangupAfter) return setStatus('Hanging up…', 'busy');
  if (state.phase === 'dialling') return setStatus(`Dialling from ${el.from.value.trim()}…`, 'busy');
  if (state.busy) return setStatus('Sending…', 'busy');
  if (!call.waiting) return setStatus(`In call at ${call.node || '—'}`);
  const { num_digits: digits, finish_on_key: finish, keys, speech } = call.waiting;
  const hint = digits ? `${digits} key${digits > 1 ? 's' : ''}`
    : finish ? `digits, end with ${finish}` : 'digits';
  const takes = keys === false ? 'speech' : speech ? `${hint} or speech` : hint;
  setStatus(`Waiting at ${call.node || '—'} · ${takes}`);
}

// Enable and disable the controls for the current phase.
function updateControls() {
  const live = state.phase === 'up' || state.phase === 'dialling';
  el.dial.disabled = live || state.busy;
  el.from.disabled = live;
  el.hangup.disabled = !live;
  el.silence.disabled = !(state.phase === 'up' && !state.busy && state.call?.waiting);
  document.body.classList.toggle('in-call', live);
  el.entry.textContent = shownEntry();
  updateSay();
}

// The say box takes words only while the waiting Gather listens for speech; it says why not.
function updateSay() {
  const waiting = state.call?.waiting;
  const listening = state.phase === 'up' && !!waiting?.speech;
  const usable = listening && !state.busy;
  for (const control of [el.sayText, el.sayConfidence, el.saySend]) control.disabled = !usable;
  el.sayNote.classList.toggle('listening', listening);
  let note = 'Speak instead of keying, where the hotline listens.';
  if (listening) {
    const hints = waiting.hints || [];
    note = hints.length ? `Listening for speech, e.g. ${hints.join(' · ')}` : 'Listening for speech.';
  } else if (state.phase === 'up' && waiting) {
    note = 'This prompt takes keys only: it does not listen for speech.';
  }
  el.sayNote.textContent = note;
  const phrases = listening ? waiting.hints || [] : [];
  el.sayHints.replaceChildren(...phrases.map((phrase) => {
    const option = document.createElement('option');
    option.value = phrase;
    return option;
  }));
}

// The keys typed so far as #entry shows them: one * per key at an input node (ID, PIN),
// and for keys typed ahead while a request is out (the next node is not known yet).
function shownEntry() {
  const secret = nodeIsInput(state.call?.node);
  const entry = secret ? '*'.repeat(state.entry.length) : state.entry;
  const ahead = secret || state.busy ? '*'.repeat(state.pending.length) : state.pending;
  return entry + ahead;
}

// Whether the call waits at an input node; a node the menu does not describe counts as one.
function nodeIsInput(name) {
  if (!name) return false;
  const type = menu.types?.get(name);
  return type === undefined || type === 'input';
}

// Start a new call from the From number.
async function dial() {
  if (state.busy || state.phase === 'up' || state.phase === 'dialling') return;
  resetCall();
  state.phase = 'dialling';
  state.busy = true;
  updateControls();
  refreshStatus();
  try {
    const call = await api('POST', '/calls', { from: el.from.value.trim() });
    state.busy = false;
    applyCall(call, true);  // every turn so far
    refreshStatus();
  } catch (err) {
    Object.assign(state, { busy: false, phase: 'idle', pending: '', hangupAfter: false });
    updateControls();
    return showError(err);
  }
  afterRequest();
}

// Clear everything a previous call left on the page.
function resetCall() {
  stopAudio();
  Object.assign(state, {
    call: null, pending: '', entry: '', hangupAfter: false, exchanges: 0, drawn: 0,
  });
  el.transcript.replaceChildren();
  el.devpanel.replaceChildren();
  highlightNode(null);
}

// Post keys, words, silence or hangup for the call, and show the new turns.
async function send(action, body) {
  state.busy = true;
  state.entry = '';
  updateControls();
  refreshStatus();
  try {
    const path = `/calls/${encodeURIComponent(state.call.id)}/${action}`;
    const call = await api('POST', path, body);
    state.busy = false;
    applyCall(call, false);  // only the turns this request added
    refreshStatus();
  } catch (err) {
    state.pending = '';  // keys typed ahead of a failed request mean nothing now
    showError(err);
    await resync();  // still busy: keys typed meanwhile wait, and no request overtakes the GET
    state.busy = false;
    updateControls();
  }
  afterRequest();
}

// After an error, fetch the call to learn whether it still waits, and draw the turns the
// server kept that were not drawn yet (the failed exchange); the error stays shown.
async function resync() {
  try {
    applyCall(await api('GET', `/calls/${encodeURIComponent(state.call.id)}`), true);
  } catch (err) {
    if (err.status === 404) {
      state.phase = 'ended';
      state.call.ended = true;
    }
    updateControls();
  }
}

// Take a Call JSON answer: remember its state, draw new turns, move the menu highlight.
// `complete`: call.turns is the whole transcript (dial, GET), of which only the turns not
// drawn yet are drawn; otherwise it holds just the turns one request added.
function applyCall(call, complete) {
  const wasEnded = state.call?.ended;
  const turns = call.turns || [];
  const fresh = complete ? turns.slice(state.drawn) : turns;
  state.drawn = complete ? Math.max(state.drawn, turns.length) : state.drawn + turns.length;
  state.call = call;
  state.phase = call.ended ? 'ended' : 'up';
  const barged = state.pending !== '';  // keys typed meanwhile cut these prompts short
  for (const turn of fresh) renderTurn(turn, !barged);
  if (call.ended) {
    Object.assign(state, { pending: '', entry: '' });
    if (!wasEnded) View.addEvent(el.transcript, 'end', `Call ended — ${call.end_state || 'unknown'}`);
  }
  highlightNode(call.node);
  updateControls();
}

// What to do once a request returns: a deferred hang-up, or the keys typed meanwhile.
function afterRequest() {
  if (state.hangupAfter && state.phase === 'up') return hangup();
  state.hangupAfter = false;
  pump();
}

// Feed typed keys to the waiting Gather; send them once the Gather is complete.
function pump() {
  const call = state.call;
  if (state.busy || !call || call.ended || !call.waiting) return updateControls();
  const { num_digits: digits, finish_on_key: finish } = call.waiting;
  while (state.pending) {
    const key = state.pending[0];
    state.pending = state.pending.slice(1);
    state.entry += key;
    const finished = finish && key === finish;
    if (finished || (digits && state.entry.length >= digits)) return send('keys', { keys: state.entry });
  }
  updateControls();
}

// A phone key, from the keypad or the keyboard: barge in and queue it for the Gather.
function pressKey(key) {
  flashKey(key);
  if (state.phase !== 'up' && state.phase !== 'dialling') {
    return setStatus('Not in a call — press Dial first', 'hint');
  }
  stopAudio();
  state.pending += key;
  pump();
}

// Let the Gather time out: Twilio then posts whatever was typed, or nothing at all.
function silence() {
  if (state.phase !== 'up' || state.busy || !state.call.waiting) return;
  stopAudio();
  if (state.entry) send('keys', { keys: state.entry });
  else send('silence');
}

// The say box: send its words as what the recogniser heard, with the confidence given.
function say(ev) {
  ev.preventDefault();
  const waiting = state.call?.waiting;
  if (state.phase !== 'up' || state.busy || !waiting?.speech) return;
  const text = el.sayText.value.trim();
  if (!text) return setStatus('Type the words to say first', 'hint');
  const confidence = Number(el.sayConfidence.value || '0.9');
  if (!(confidence >= 0 && confidence <= 1)) return setStatus('Confidence is a number from 0 to 1', 'hint');
  stopAudio();  // speaking barges in, as a key does
  Object.assign(state, { pending: '', entry: '' });
  el.sayText.value = '';
  send('say', { text, confidence });
}

// Hang up now, or as soon as the request in flight returns.
function hangup() {
  if (state.phase === 'dialling' || (state.phase === 'up' && state.busy)) {
    state.hangupAfter = true;
    return refreshStatus();
  }
  if (state.phase !== 'up') return;
  Object.assign(state, { hangupAfter: false, pending: '', entry: '' });
  stopAudio();
  send('hangup');
}

// Press a keypad button visibly for a moment.
function flashKey(key) {
  const button = [...document.querySelectorAll('button.key')].find((b) => b.dataset.key === key);
  if (!button) return;
  button.classList.add('active');
  setTimeout(() => button.classList.remove('active'), 150);
}

// Draw one turn: a bubble in the transcript, or an exchange in the developer panel.
function renderTurn(turn, playAudio) {
  if (turn.kind === 'heard') {
    const bubble = View.addBubble(el.transcript, 'hotline', '12333', turn.text);
    if (turn.audio) {
      const replay = View.make('button', 'replay', '▶');
      replay.type = 'button';
      replay.setAttribute('aria-label', 'Play this prompt again');
      replay.addEventListener('click', () => { stopAudio(); enqueueAudio(turn.audio, bubble); });
      bubble.append(replay);
      if (playAudio) enqueueAudio(turn.audio, bubble);
    }
  } else if (turn.kind === 'pressed') {
    View.addBubble(el.transcript, 'caller', 'You pressed', turn.text);
  } else if (turn.kind === 'said') {
    const bubble = View.addBubble(el.transcript, 'caller said', 'You said', turn.text);
    if (turn.confidence !== null && turn.confidence !== undefined) {
      bubble.querySelector('.text').append(View.make('span', 'confidence', `(${turn.confidence.toFixed(2)})`));
    }
  } else if (turn.kind === 'silence') {
    View.addEvent(el.transcript, 'silence', 'Silence — the Gather timed out');
  } else if (turn.kind === 'request') {
    View.addExchange(el.devpanel, turn, ++state.exchanges);
  }
}

// Queue a prompt's audio; start playing if nothing is.
function enqueueAudio(url, bubble) {
  audio.queue.push({ url, bubble });
  if (!audio.current && !audio.blocked) playNext();
}

// Play the next queued prompt and highlight its bubble.
function playNext() {
  audio.current?.bubble.classList.remove('playing');
  const item = audio.queue.shift() || null;
  audio.current = item;
  el.phone.classList.toggle('speaking', !!item);
  if (!item) return;
  item.bubble.classList.add('playing');
  el.player.src = item.url;
  el.player.play().catch((err) => {
    if (audio.current !== item || err.name !== 'NotAllowedError') return;  // stopped, or 'error' fires
    audio.queue.unshift(item);
    audio.current = null;
    audio.blocked = true;
    item.bubble.classList.remove('playing');
    el.phone.classList.remove('speaking');
    el.audioNote.hidden = false;
  });
}

// Stop the prompt playing and forget the queue (barge-in, hang-up, new call).
function stopAudio() {
  audio.current?.bubble.classList.remove('playing');
  audio.queue = [];
  audio.current = null;
  audio.blocked = false;
  el.audioNote.hidden = true;
  el.phone.classList.remove('speaking');
  el.player.pause();
  el.player.removeAttribute('src');
  el.player.load();
}

// After the browser blocked autoplay, the next click starts the queue again.
function unblockAudio() {
  if (!audio.blocked) return;
  audio.blocked = false;
  el.audioNote.hidden = true;
  playNext();
}

// Fetch the menu once and draw it as a tree.
async function loadMenu() {
  try {
    const data = await api('GET', '/menu');
    menu.types = new Map((data.nodes || []).map((node) => [node.name, node.type]));
    menu.boxes = View.drawMenu(el.menuTree, data);
    highlightNode(state.call?.node);
    updateControls();  // the entry may now be shown in clear
  } catch (err) {
    el.menuTree.replaceChildren(View.make('p', 'placeholder error', `Menu unavailable: ${err.message}`));
    if (state.phase === 'idle') showError(err);
  }
}

// Mark the node the call waits at, and scroll the menu panel to it.
function highlightNode(name) {
  menu.current?.classList.remove('current');
  menu.current = (name && menu.boxes.get(name)) || null;
  if (!menu.current) return;
  menu.current.classList.add('current');
  View.revealIn(el.menuTree, menu.current);
}

// Computer keyboard: digits * # press keys, Enter dials, Escape hangs up.
function onKeyDown(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  const target = ev.target;
  if (ev.key === 'Escape') {
    ev.preventDefault();
    return hangup();
  }
  if (ev.key === 'Enter') {
    if (target instanceof HTMLButtonElement && !target.classList.contains('key')) return;
    if (target instanceof HTMLInputElement && target.form === el.sayForm) return;  // it says
    ev.preventDefault();
    if (state.phase === 'idle' || state.phase === 'ended') dial();
    return;
  }
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  if (ev.key.length === 1 && PHONE_KEYS.includes(ev.key)) {
    ev.preventDefault();
    if (!ev.repeat) pressKey(ev.key);
  }
}

// Find the elements, wire the controls and load the menu.
function init() {
  const ids = ['from', 'dial', 'hangup', 'silence', 'entry', 'status', 'transcript', 'devpanel',
    'player', 'audioNote:audio-note', 'menuTree:menu-tree', 'phone:phone', 'sayForm:say-form',
    'sayText:say-text', 'sayConfidence:say-confidence', 'saySend:say-send', 'sayNote:say-note',
    'sayHints:say-hints'];
  for (const spec of ids) {
    const [name, id = name] = spec.split(':');
    el[name] = document.getElementById(id);
  }
  el.dial.addEventListener('click', dial);
  el.hangup.addEventListener('click', hangup);
  el.silence.addEventListener('click', silence);
  el.sayForm.addEventListener('submit', say);
  document.querySelector('.keypad').addEventListener('click', (ev) => {
    const button = ev.target.closest('button.key');
    if (button) pressKey(button.dataset.key);
  });
  el.player.addEventListener('ended', playNext);
  el.player.addEventListener('error', () => { if (audio.current && el.player.error) playNext(); });
  document.addEventListener('keydown', onKeyDown);
  document.addEventListener('pointerdown', unblockAudio);
  updateControls();
  refreshStatus();
  loadMenu();
}

document.addEventListener('DOMContentLoaded', init);
