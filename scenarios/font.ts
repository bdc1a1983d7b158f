/**
 * A 5 × 7 bitmap font for chart labels (chart.ts): digits, the lower-case letters axis titles use and a
 * few signs. Each glyph is seven rows, top first, of five bits (bit 4 the leftmost pixel). Drawn by the
 * project itself; characters without a glyph are drawn as an empty cell (see {@link hasGlyph}).
 *
 * Example:
 *   drawText((x, y) => canvas.set(x, y, black), 10, 20, 'time (s)');        // 6 px per character
 *   textWidth('100 ms')   // → 35
 */

/** Glyph rows by character. */
const GLYPHS: Record<string, readonly number[]> = {
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
  '.': [0, 0, 0, 0, 0, 12, 12], '-': [0, 0, 0, 14, 0, 0, 0], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
  '%': [24, 25, 2, 4, 8, 19, 3], '/': [0, 1, 2, 4, 8, 16, 0], ' ': [0, 0, 0, 0, 0, 0, 0],
  a: [0, 0, 14, 1, 15, 17, 15], c: [0, 0, 14, 16, 16, 17, 14], d: [1, 1, 13, 19, 17, 17, 15], e: [0, 0, 14, 17, 31, 16, 14],
  i: [4, 0, 12, 4, 4, 4, 14], l: [12, 4, 4, 4, 4, 4, 14], m: [0, 0, 26, 21, 21, 17, 17], n: [0, 0, 22, 25, 17, 17, 17],
  o: [0, 0, 14, 17, 17, 17, 14], p: [0, 0, 30, 17, 30, 16, 16], r: [0, 0, 22, 25, 16, 16, 16], s: [0, 0, 15, 16, 14, 1, 30],
  t: [8, 8, 28, 8, 8, 9, 6], u: [0, 0, 17, 17, 17, 19, 13], y: [0, 0, 17, 17, 15, 1, 14],
};

/** Glyph cell: 5 pixels wide plus 1 of spacing, 7 high. */
export const GLYPH_W = 5, GLYPH_H = 7, ADVANCE = 6;

/** Whether `ch` has a glyph (others are drawn as blank cells). */
export const hasGlyph = (ch: string): boolean => ch in GLYPHS;

/** Pixel width of `text` (no trailing spacing). */
export const textWidth = (text: string): number => (text.length ? text.length * ADVANCE - 1 : 0);

/**
 * Draw `text` with its top-left corner at (x, y) by calling `plot` for every set pixel. `vertical` turns
 * it 90° counter-clockwise (reading bottom to top, as a y-axis title): (x, y) is then the bottom-left
 * corner and the text occupies GLYPH_H columns and textWidth(text) rows above y.
 */
export function drawText(plot: (x: number, y: number) => void, x: number, y: number, text: string, vertical = false): void {
  [...text].forEach((ch, i) => {
    const rows = GLYPHS[ch] ?? GLYPHS[' ']!;
    for (let r = 0; r < GLYPH_H; r++) {
      for (let c = 0; c < GLYPH_W; c++) {
        if (!(rows[r]! & (1 << (GLYPH_W - 1 - c)))) continue;
        const along = i * ADVANCE + c;
        if (vertical) plot(x + r, y - along); else plot(x + along, y + r);
      }
    }
  });
}
