/** `current` with the fields `patch` sets (fields that are absent or undefined keep their value). */
export function applyPatch<T extends object>(current: T, patch: { [K in keyof T]?: T[K] | undefined }): T {
  const next = { ...current };
  for (const key of Object.keys(patch) as (keyof T)[]) {
    const value = patch[key];
    if (value !== undefined) next[key] = value;
  }
  return next;
}
