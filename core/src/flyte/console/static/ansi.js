// Flyte console: log text with ANSI escape sequences (what click, rich, loguru and colourful tools print) as
// styled text. SGR colours and styles (bold, dim, italic, underline; the 16 basic colours) become spans with
// classes; every other escape sequence (cursor moves, erase, OSC hyperlinks, 256-colour and RGB colours) is
// dropped. The text itself always goes in as text nodes, never as HTML.

import { shown } from "./util.js";

// a whole sequence: CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), or a short ESC sequence (ESC ( B)
const SEQ = /\x1b(?:\[([0-9;:?<=>]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-Z\\^-~])/y;
// what the end of a chunk may hold of a sequence whose rest comes with the next chunk
const PARTIAL = /^\x1b(?:\[[0-9;:?<=>]*[ -/]*|\][^\x07\x1b]*\x1b?|[ -/]*)$/;
const MAX_CARRY = 4096;

/** Appends log text to an element, chunk by chunk; the style state and a split sequence carry over. */
export class AnsiText {
  constructor(el) {
    this.el = el;
    this.carry = "";
    this.reset();
  }

  reset() {
    this.bold = false;
    this.dim = false;
    this.italic = false;
    this.underline = false;
    this.fg = null;
    this.bg = null;
    this.cls = "";
  }

  /** Appends one chunk; returns how many characters of text it added. */
  append(chunk) {
    const text = this.carry + chunk;
    this.carry = "";
    const frag = document.createDocumentFragment();
    let added = 0;
    let pos = 0;
    const emit = (s) => {
      if (!s) return;
      s = shown(s);
      added += s.length;
      if (!this.cls) frag.append(document.createTextNode(s));
      else {
        const span = document.createElement("span");
        span.className = this.cls;
        span.textContent = s;
        frag.append(span);
      }
    };
    for (;;) {
      const esc = text.indexOf("\x1b", pos);
      if (esc === -1) {
        emit(text.slice(pos));
        break;
      }
      emit(text.slice(pos, esc));
      SEQ.lastIndex = esc;
      const m = SEQ.exec(text);
      if (m) {
        if (m[2] === "m") this.sgr(m[1]);
        pos = SEQ.lastIndex;
      } else if (text.length - esc < MAX_CARRY && PARTIAL.test(text.slice(esc))) {
        this.carry = text.slice(esc); // the rest of this sequence is in the next chunk
        break;
      } else {
        pos = esc + 1; // a lone ESC: dropped
      }
    }
    this.el.append(frag);
    return added;
  }

  /** The log ended: an unfinished sequence at its very end is dropped. */
  flush() {
    this.carry = "";
  }

  sgr(params) {
    const ps = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i];
      if (p === 0) this.reset();
      else if (p === 1) this.bold = true;
      else if (p === 2) this.dim = true;
      else if (p === 3) this.italic = true;
      else if (p === 4) this.underline = true;
      else if (p === 22) this.bold = this.dim = false;
      else if (p === 23) this.italic = false;
      else if (p === 24) this.underline = false;
      else if (p >= 30 && p <= 37) this.fg = p - 30;
      else if (p >= 90 && p <= 97) this.fg = p - 90 + 8;
      else if (p === 39) this.fg = null;
      else if (p >= 40 && p <= 47) this.bg = p - 40;
      else if (p >= 100 && p <= 107) this.bg = p - 100 + 8;
      else if (p === 49) this.bg = null;
      else if (p === 38 || p === 48) {
        // 256-colour (5;n) or RGB (2;r;g;b): the first 16 of the palette are the basic colours; others are plain
        let colour = null;
        if (ps[i + 1] === 5) {
          colour = ps[i + 2] < 16 ? ps[i + 2] : null;
          i += 2;
        } else if (ps[i + 1] === 2) {
          i += 4;
        }
        if (p === 38) this.fg = colour;
        else this.bg = colour;
      }
    }
    this.cls = [this.bold && "ansi-bold", this.dim && "ansi-dim", this.italic && "ansi-italic",
      this.underline && "ansi-underline", this.fg != null && `ansi-fg${this.fg}`, this.bg != null && `ansi-bg${this.bg}`]
      .filter(Boolean).join(" ");
  }
}
