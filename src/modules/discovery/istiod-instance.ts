/** One ready istiod replica the proxy may ask. */
export interface IstiodInstance {
  /** Pod name (or the static name): the stable sort key and the name reported to users. */
  name: string;
  address: string;
  port: number;
  revision: string;
}

export function instanceTarget(instance: IstiodInstance): string {
  return instance.address.includes(':') ? `[${instance.address}]:${instance.port}` : `${instance.address}:${instance.port}`;
}

export function sameInstances(a: readonly IstiodInstance[], b: readonly IstiodInstance[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.name === b[i].name && x.address === b[i].address && x.port === b[i].port && x.revision === b[i].revision)
  );
}

export function byName(a: IstiodInstance, b: IstiodInstance): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
