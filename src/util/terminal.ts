/**
 * Text bound for a terminal with its control characters made visible: a file name holding an
 * escape sequence (ESC [ ... ), a carriage return or a C1 control cannot move the cursor, change
 * colours, retitle the window or hide earlier output. Newlines and tabs are kept (lines stay
 * lines); everything else below 0x20, DEL and U+0080..U+009F is written as \xNN or \uNNNN.
 */

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` with terminal control characters (all but newline and tab) escaped. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x80 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}
