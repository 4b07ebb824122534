/** Server-Sent Events, as the watch routes send them: one event per log record. */

/** One event: its `id` (the record's seq), `event` (its kind) and `data`. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Turns an event stream's text, as it arrives, into events (comments and keep-alives skipped). */
export class SseParser {
  private buffer = "";
  private id: string | undefined;
  private event = "message";
  private data: string[] = [];

  /** Takes the next piece of text; answers the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const done: SseEvent[] = [];
    let end: number;
    while ((end = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, end);
      const width = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + width);
      const event = this.line(line);
      if (event) done.push(event);
    }
    return done;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "message";
        return undefined;
      }
      const event = { id: this.id, event: this.event, data: this.data.join("\n") };
      this.event = "message";
      this.data = [];
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "event") this.event = value;
    else if (name === "id") this.id = value;
    return undefined;
  }
}
