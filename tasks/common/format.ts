/** Text for one Markdown table cell: pipes escaped, line breaks folded; `empty` stands in for nothing. */
export function markdownCell(text: string | undefined, empty = ''): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ') || empty;
}

/** Text for XML content or an attribute value, without the control characters XML 1.0 cannot carry. */
export function xmlText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The text as a sentence: a full stop added unless it already ends with one (or with ! or ?). */
export function asSentence(text: string): string {
  const trimmed = text.trimEnd();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
