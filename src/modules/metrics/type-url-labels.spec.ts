import { describe, expect, it } from 'vitest';
import { KNOWN_TYPE_URLS, OTHER_TYPE_URL, TypeUrlLabels } from './type-url-labels.js';

describe('TypeUrlLabels', () => {
  it('keeps the known type URLs and turns any other into "other"', () => {
    const sut = new TypeUrlLabels();
    for (const typeUrl of KNOWN_TYPE_URLS) expect(sut.label(typeUrl)).toBe(typeUrl);
    expect(sut.label('made.up/type-1')).toBe(OTHER_TYPE_URL);
    expect(sut.label('')).toBe(OTHER_TYPE_URL);
  });

  it('also keeps the type URLs merge plugins name exactly', () => {
    const sut = new TypeUrlLabels();
    sut.acceptPluginTypeUrls((typeUrl) => typeUrl === 'example.com/debug/proxy-count');
    expect(sut.label('example.com/debug/proxy-count')).toBe('example.com/debug/proxy-count');
    expect(sut.label('example.com/debug/other')).toBe(OTHER_TYPE_URL);
  });
});
