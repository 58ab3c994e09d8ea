import { describe, expect, it } from 'vitest';
import { identifier } from '../../../../test/kit/xds-fixtures.js';
import { ControlPlaneIdentifier, mergeIdentifiers, parseIdentifier } from './control-plane.js';

const parse = (o: object) => parseIdentifier(JSON.stringify(o)) as ControlPlaneIdentifier;

describe('mergeIdentifiers', () => {
  it('keeps the first Info and replaces ID when versions agree', () => {
    const merged = mergeIdentifiers([parse(identifier('istiod-a', '1.27.3')), parse(identifier('istiod-b', '1.27.3'))], '<external>');
    expect(merged.identifier).toEqual({ ...identifier('<external>', '1.27.3') });
    expect(merged.mixedVersions).toBeUndefined();
  });

  it('joins sorted distinct values of every Info field when versions differ', () => {
    const merged = mergeIdentifiers(
      [parse(identifier('a', '1.27.3')), parse(identifier('b', '1.26.1')), parse(identifier('c', '1.27.3'))],
      '<external>',
    );
    expect(merged.identifier.Info.version).toBe('1.26.1,1.27.3');
    expect(merged.identifier.Info.revision).toBe('rev-1.26.1,rev-1.27.3');
    expect(merged.identifier.Info.status).toBe('Clean');
    expect(merged.mixedVersions).toEqual(['1.26.1', '1.27.3']);
  });

  it('treats unparsable identifiers as absent', () => {
    expect(parseIdentifier('not json')).toBeUndefined();
    expect(mergeIdentifiers([], 'x').identifier).toEqual({ Component: 'istiod', ID: 'x', Info: {} });
  });
});
