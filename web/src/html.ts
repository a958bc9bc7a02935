// Text placed into HTML that a library builds from strings (chart
// tooltips): the five characters that could open markup are escaped, so a
// resource named `<img src=x onerror=…>` shows as that text.
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c])
}
