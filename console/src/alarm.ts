/**
 * How a high-priority alert gets attention: a short tone made with WebAudio
 * (no sound file to ship) and, where the person allowed it, a desktop
 * notification. Browsers let a page sound and ask for notifications only
 * after a person's click or key press, so both are armed from one, never
 * at load.
 */

/** Shortest time between two tones, so a burst of alerts is one tone. */
const QUIET_MS = 2_000;

/** The console's alarm. */
export class Alarm {
  private audio: AudioContext | undefined;
  private lastToneMs = 0;

  /** Lets the page make sound from now on; call it from a click or key press. */
  arm(): void {
    this.audio ??= new AudioContext();
    if (this.audio.state === "suspended") {
      void this.audio.resume();
    }
  }

  /** Whether the browser has not been asked yet for notifications. */
  get canAsk(): boolean {
    return "Notification" in window && Notification.permission === "default";
  }

  /** Asks for permission to notify; call it from a click. */
  async ask(): Promise<void> {
    this.arm();
    if (this.canAsk) {
      await Notification.requestPermission();
    }
  }

  /**
   * A tone and, if allowed, a notification `title`/`body`; `tag` (the
   * alert id) replaces an earlier notification of the same alert.
   */
  ring(title: string, body: string, tag: string): void {
    this.tone();
    if ("Notification" in window && Notification.permission === "granted") {
      const notification = new Notification(title, { body, tag });
      notification.onclick = () => {
        window.focus();
        notification.close();
      };
    }
  }

  /** High, low, high: about half a second. */
  private tone(): void {
    const audio = this.audio;
    const now = Date.now();
    if (audio?.state !== "running" || now - this.lastToneMs < QUIET_MS) {
      return;
    }
    this.lastToneMs = now;
    const start = audio.currentTime;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "triangle";
    [880, 660, 880].forEach((hz, i) => oscillator.frequency.setValueAtTime(hz, start + i * 0.18));
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.4, start + 0.02);
    gain.gain.setValueAtTime(0.4, start + 0.5);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.6);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.62);
  }
}
