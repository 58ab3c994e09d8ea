import { MergeStrategy, TypeUrlMatcher } from './merge-strategy.js';

/** A strategy together with the type URLs it handles, as the registry keeps it. */
export interface StrategyBinding {
  typeUrl: TypeUrlMatcher;
  strategy: MergeStrategy;
}

export function isExactMatch(matcher: TypeUrlMatcher, typeUrl: string): boolean {
  return typeof matcher === 'string' && matcher === typeUrl;
}

export function isPatternMatch(matcher: TypeUrlMatcher, typeUrl: string): boolean {
  if (matcher instanceof RegExp) return matcher.test(typeUrl);
  return typeof matcher === 'function' && matcher(typeUrl);
}

export function describeMatcher(matcher: TypeUrlMatcher): string {
  return typeof matcher === 'string' ? matcher : matcher instanceof RegExp ? matcher.toString() : 'custom matcher';
}
