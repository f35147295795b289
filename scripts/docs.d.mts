export function markers(section: string): { begin: string; end: string };
export function renderSection(section: 'inputs' | 'outputs', task: unknown): string;
export function updatePage(text: string, task: unknown, page?: string): string;
export function readTask(folder: string): unknown;
export function pagePath(folder: string): string;
export function stalePages(): string[];
