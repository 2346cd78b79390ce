/** Offsets of the start of each line of `text`, for many look-ups in one file. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The 1-based line and column of `offset` in a text, given the text or its `lineStarts`. */
export function lineAndColumn(textOrStarts: string | number[], offset: number): { line: number; column: number } {
  const starts = typeof textOrStarts === "string" ? lineStarts(textOrStarts) : textOrStarts;
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= offset) low = middle;
    else high = middle - 1;
  }
  return { line: low + 1, column: offset - starts[low]! + 1 };
}
