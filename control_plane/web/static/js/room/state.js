// What the room knows: who is in it (in order of entry), their tracks and mute states, the
// lobby, the chat, the active speaker. Messages from the edge change it; views read it.

export class RoomState {
  constructor() {
    this.me = "";
    this.myName = "";
    this.grants = { publish: [], subscribe: true, chat: false, moderate: false, record: false };
    this.participants = new Map(); // id → {participant_id, name, role, moderator, muted:Set, tracks:Map, hand}
    this.lobby = [];
    this.chat = [];
    this.activeSpeaker = null;
    this.meeting = null;
  }

  _participant(p) {
    return {
      participant_id: p.participant_id, name: p.name, role: p.role, moderator: Boolean(p.moderator),
      muted: new Set(p.muted || []), tracks: new Map((p.tracks || []).map((t) => [t.track_id, t])),
      hand: p.hand || 0, // when the hand went up (edge time, s); 0: down
    };
  }

  /** A full snapshot (`joined`): replaces everything but the chat. */
  reset(joined) {
    this.me = joined.participant_id;
    this.myName = joined.name;
    this.grants = joined.grants;
    this.meeting = joined.meeting;
    this.activeSpeaker = joined.meeting?.active_speaker || null;
    this.participants = new Map(joined.roster.map((p) => [p.participant_id, this._participant(p)]));
    this.lobby = joined.lobby || [];
  }

  upsert(p) {
    const old = this.participants.get(p.participant_id);
    const next = this._participant(p);
    if (old && !p.tracks?.length) next.tracks = old.tracks;
    this.participants.set(p.participant_id, next);
    if (p.participant_id === this.me) this.grants = { ...this.grants, moderate: next.moderator };
  }

  remove(id) {
    this.participants.delete(id);
    if (this.activeSpeaker === id) this.activeSpeaker = null;
  }

  addTrack(track) {
    this.participants.get(track.participant_id)?.tracks.set(track.track_id, track);
  }

  removeTrack(participantId, trackId) {
    this.participants.get(participantId)?.tracks.delete(trackId);
  }

  setMuted(participantId, source, muted) {
    const p = this.participants.get(participantId);
    if (!p) return;
    if (muted) p.muted.add(source);
    else p.muted.delete(source);
    for (const t of p.tracks.values()) if (t.source === source) t.muted = muted;
  }

  setHand(participantId, raised, at) {
    const p = this.participants.get(participantId);
    if (p) p.hand = raised ? at || Date.now() / 1000 : 0;
  }

  /** Raised hands, first raised first: the order a moderator takes them in. */
  handQueue() {
    return [...this.participants.values()].filter((p) => p.hand).sort((a, b) => a.hand - b.hand);
  }

  /** The track (TrackOut) with this id, and its owner. */
  track(trackId) {
    for (const p of this.participants.values()) {
      const t = p.tracks.get(trackId);
      if (t) return { track: t, participant: p };
    }
    return null;
  }

  others() {
    return [...this.participants.values()].filter((p) => p.participant_id !== this.me);
  }

  mine() {
    return this.participants.get(this.me) || null;
  }

  isModerator() {
    return Boolean(this.grants.moderate);
  }

  may(source) {
    return this.grants.publish.includes(source);
  }
}
