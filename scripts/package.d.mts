export function devTaskId(id: string): string;
export function packageExtension(options?: { dev?: boolean; quiet?: boolean }): Promise<string>;
