// Local media: the mic, camera and screen tracks we send, and the flowing
// placeholders that stand in for them while they are off. Every link sends
// exactly three lanes (audio, camera, screen) for its whole life; turning
// something on or off swaps the track in each lane with replaceTrack and
// never re-dials (Kibitz's battle-tested rules 1, 2 and 4).

/** Lane indexes, in m-line order. */
export const LANE_AUDIO = 0;
export const LANE_CAMERA = 1;
export const LANE_SCREEN = 2;

/** @typedef {'denied'|'nodevice'|'insecure'|'unsupported'|'busy'|'failed'} MediaProblem */

/**
 * Sorts a getUserMedia/getDisplayMedia error into what we tell the user.
 * @param {unknown} err
 * @returns {MediaProblem}
 */
export function classifyMediaError(err) {
  const name = err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err) ? String(/** @type {{name: unknown}} */ (err).name) : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'nodevice';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    default:
      return 'failed';
  }
}

/** Camera capture like Kibitz: small, so a phone mesh fits the Wi-Fi. */
const CAMERA_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 20, max: 24 } };
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/**
 * A 2×2 black video track that keeps producing frames (iOS drops lanes that
 * go silent).
 * @returns {{track: MediaStreamTrack, stop: () => void}}
 */
function blackVideo() {
  const canvas = document.createElement('canvas');
  canvas.width = 2;
  canvas.height = 2;
  const ctx = canvas.getContext('2d');
  let odd = false;
  const paint = () => {
    if (!ctx) return;
    odd = !odd;
    ctx.fillStyle = odd ? '#000' : '#010101';
    ctx.fillRect(0, 0, 2, 2);
  };
  paint();
  const stream = canvas.captureStream(5);
  const timer = setInterval(paint, 250);
  const track = stream.getVideoTracks()[0];
  return { track, stop: () => { clearInterval(timer); track.stop(); } };
}

/**
 * A silent audio track (zero-gain oscillator).
 * @param {AudioContext} ac
 * @returns {MediaStreamTrack}
 */
function silentAudio(ac) {
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  gain.gain.value = 0;
  const dest = ac.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();
  return dest.stream.getAudioTracks()[0];
}

/**
 * Measures the loudness of one audio track (0..1) for the speaking ring.
 */
export class LevelMeter {
  /**
   * @param {AudioContext} ac
   * @param {MediaStreamTrack} track
   */
  constructor(ac, track) {
    this.source = ac.createMediaStreamSource(new MediaStream([track]));
    this.analyser = ac.createAnalyser();
    this.analyser.fftSize = 512;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** @returns {number} RMS level, about 0..1 */
  level() {
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const v of this.buf) sum += v * v;
    return Math.sqrt(sum / this.buf.length);
  }

  stop() {
    this.source.disconnect();
  }
}

/**
 * The tracks we send. Listeners (the mesh) get told when a lane's track
 * changes and swap it into every link.
 */
export class LocalMedia {
  constructor() {
    /** @type {AudioContext|null} */
    this.ac = null;
    /** @type {MediaStreamTrack|null} real microphone, captured at join, disabled while muted */
    this.mic = null;
    /** @type {MediaStreamTrack|null} */
    this.camera = null;
    /** @type {MediaStreamTrack|null} */
    this.screen = null;
    /** @type {MediaStreamTrack|null} */
    this.silent = null;
    /** @type {{track: MediaStreamTrack, stop: () => void}|null} */
    this.blackCam = null;
    /** @type {{track: MediaStreamTrack, stop: () => void}|null} */
    this.blackScreen = null;
    this.micOn = false;
    /** @type {string} chosen device ids ('' = default) */
    this.micDevice = '';
    this.camDevice = '';
    /** @type {Set<(lane: number, track: MediaStreamTrack) => void>} */
    this.laneListeners = new Set();
    /** @type {LevelMeter|null} */
    this.meter = null;
  }

  /** Creates the placeholders; call from a user gesture (the Join button). */
  ensureBase() {
    if (!this.ac) {
      this.ac = new AudioContext();
      this.silent = silentAudio(this.ac);
      this.blackCam = blackVideo();
      this.blackScreen = blackVideo();
    }
    if (this.ac.state === 'suspended') this.ac.resume().catch(() => {});
  }

  /** The three tracks every new link starts with, in lane order. */
  tracks() {
    this.ensureBase();
    return [
      this.mic ?? /** @type {MediaStreamTrack} */ (this.silent),
      this.camera ?? /** @type {{track: MediaStreamTrack}} */ (this.blackCam).track,
      this.screen ?? /** @type {{track: MediaStreamTrack}} */ (this.blackScreen).track,
    ];
  }

  /**
   * Whether track is one of our placeholders rather than a real source.
   * @param {MediaStreamTrack|null} track
   */
  isPlaceholder(track) {
    return !!track && (track === this.silent || track === this.blackCam?.track || track === this.blackScreen?.track);
  }

  /**
   * @param {number} lane
   */
  emitLane(lane) {
    const track = this.tracks()[lane];
    for (const fn of this.laneListeners) fn(lane, track);
  }

  /**
   * Captures the microphone (disabled until unmuted). Failure leaves the
   * silent placeholder in the audio lane and is returned, not thrown.
   * @returns {Promise<MediaProblem|null>}
   */
  async openMic() {
    this.ensureBase();
    if (!navigator.mediaDevices?.getUserMedia) return 'insecure';
    const constraints = {
      audio: this.micDevice ? { ...AUDIO_CONSTRAINTS, deviceId: { exact: this.micDevice } } : AUDIO_CONSTRAINTS,
    };
    try {
      /** @type {MediaStream} */
      let s;
      try {
        s = await navigator.mediaDevices.getUserMedia(constraints);
      } catch (err) {
        // The pre-join preview has just stopped its microphone; on a busy
        // machine the device is not released yet and the first capture
        // fails (NotReadableError/AbortError). One retry later it works.
        const problem = classifyMediaError(err);
        if (problem !== 'busy' && problem !== 'failed') throw err;
        await new Promise((r) => setTimeout(r, 700));
        s = await navigator.mediaDevices.getUserMedia(constraints);
      }
      const track = s.getAudioTracks()[0];
      const old = this.mic;
      this.mic = track;
      track.enabled = this.micOn;
      this.meter?.stop();
      this.meter = this.ac ? new LevelMeter(this.ac, track) : null;
      this.emitLane(LANE_AUDIO);
      old?.stop();
      return null;
    } catch (err) {
      return classifyMediaError(err);
    }
  }

  /**
   * Mutes or unmutes; opens the mic first if we have none yet.
   * @param {boolean} on
   * @returns {Promise<MediaProblem|null>}
   */
  async setMic(on) {
    if (on && !this.mic) {
      const problem = await this.openMic();
      if (problem) return problem;
    }
    this.micOn = on && !!this.mic;
    if (this.mic) this.mic.enabled = this.micOn;
    return null;
  }

  /**
   * Turns the camera on (capturing it) or off (stopping it, so the light
   * goes out, and sending black frames instead).
   * @param {boolean} on
   * @returns {Promise<MediaProblem|null>}
   */
  async setCamera(on) {
    this.ensureBase();
    if (!on) {
      const old = this.camera;
      this.camera = null;
      if (old) {
        this.emitLane(LANE_CAMERA);
        old.stop();
      }
      return null;
    }
    if (this.camera) return null;
    if (!navigator.mediaDevices?.getUserMedia) return 'insecure';
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        video: this.camDevice ? { ...CAMERA_CONSTRAINTS, deviceId: { exact: this.camDevice } } : { ...CAMERA_CONSTRAINTS, facingMode: 'user' },
      });
      this.camera = s.getVideoTracks()[0];
      this.camera.contentHint = 'motion';
      this.emitLane(LANE_CAMERA);
      return null;
    } catch (err) {
      return classifyMediaError(err);
    }
  }

  /** Whether this browser can share a screen at all (not on phones). */
  static canShareScreen() {
    return typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  }

  /**
   * Starts or stops screen sharing on the screen lane.
   * @param {boolean} on
   * @param {() => void} onEnded called when the user stops sharing from the browser UI
   * @returns {Promise<MediaProblem|null>}
   */
  async setScreen(on, onEnded) {
    this.ensureBase();
    if (!on) {
      const old = this.screen;
      this.screen = null;
      if (old) {
        this.emitLane(LANE_SCREEN);
        old.stop();
      }
      return null;
    }
    if (this.screen) return null;
    if (!LocalMedia.canShareScreen()) return 'unsupported';
    try {
      const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10, max: 15 } }, audio: false });
      const track = s.getVideoTracks()[0];
      track.contentHint = 'detail';
      track.addEventListener('ended', () => {
        if (this.screen === track) onEnded();
      });
      this.screen = track;
      this.emitLane(LANE_SCREEN);
      return null;
    } catch (err) {
      return classifyMediaError(err);
    }
  }

  /** Our own loudness while unmuted, 0 otherwise. */
  level() {
    return this.micOn && this.meter ? this.meter.level() : 0;
  }

  /** Stops every capture (leaving the call). */
  stopCaptures() {
    for (const t of [this.mic, this.camera, this.screen]) t?.stop();
    this.meter?.stop();
    this.meter = null;
    this.mic = null;
    this.camera = null;
    this.screen = null;
    this.micOn = false;
  }
}

/**
 * Lists capture devices for the pickers (labels appear once permission is granted).
 * @returns {Promise<{audio: MediaDeviceInfo[], video: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return { audio: [], video: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    audio: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
    video: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
  };
}
