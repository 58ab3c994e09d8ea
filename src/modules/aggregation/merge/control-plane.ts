/** istiod's control_plane identifier (pkg/version IstioControlPlaneInstance). */
export interface ControlPlaneIdentifier {
  Component: string;
  ID: string;
  Info: Record<string, string>;
}

export function parseIdentifier(raw: string | undefined | null): ControlPlaneIdentifier | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<ControlPlaneIdentifier>;
    if (!parsed || typeof parsed !== 'object') return undefined;
    return { Component: parsed.Component ?? 'istiod', ID: parsed.ID ?? '', Info: { ...(parsed.Info ?? {}) } };
  } catch {
    return undefined;
  }
}

export interface MergedIdentifier {
  identifier: ControlPlaneIdentifier;
  mixedVersions: string[] | undefined;
}

/**
 * One identifier for the whole control plane, with ID replaced (istioctl shows it in the ISTIOD
 * column). Same version everywhere: the first replica's Info. Mixed versions: every Info field
 * becomes the sorted distinct values joined by ",", so `x version` shows all of them instead of
 * one arbitrary replica's.
 */
export function mergeIdentifiers(identifiers: ControlPlaneIdentifier[], id: string): MergedIdentifier {
  if (identifiers.length === 0) return { identifier: { Component: 'istiod', ID: id, Info: {} }, mixedVersions: undefined };
  const versions = distinct(identifiers.map((i) => i.Info.version ?? ''));
  if (versions.length <= 1) {
    return { identifier: { Component: identifiers[0].Component, ID: id, Info: { ...identifiers[0].Info } }, mixedVersions: undefined };
  }
  const keys = [...new Set(identifiers.flatMap((i) => Object.keys(i.Info)))];
  const info: Record<string, string> = {};
  for (const key of keys) info[key] = distinct(identifiers.map((i) => i.Info[key] ?? '').filter(Boolean)).join(',');
  return { identifier: { Component: identifiers[0].Component, ID: id, Info: info }, mixedVersions: versions };
}

function distinct(values: string[]): string[] {
  return [...new Set(values)].sort();
}
