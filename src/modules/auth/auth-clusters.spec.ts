import { describe, expect, it } from 'vitest';
import { ScriptedCluster } from '../../../test/kit/scripted-clusters.js';
import { AuthClusters } from './auth-clusters.js';

describe('AuthClusters', () => {
  it('reports the number of clusters per source after every change', () => {
    const reported: Record<string, number>[] = [];
    const sut = new AuthClusters({ maxClusters: 3, onChange: (counts) => reported.push(counts) });
    const reviewer = new ScriptedCluster('x');
    sut.set({ id: 'home', source: 'static', origin: 'AUTH_KUBECONFIG', reviewer });
    sut.set({ id: 'west', source: 'remote-secret', origin: 'Secret istio-system/west', reviewer });
    sut.delete('west');
    sut.delete('west');
    expect(reported).toEqual([
      { static: 1, 'remote-secret': 0 },
      { static: 1, 'remote-secret': 1 },
      { static: 1, 'remote-secret': 0 },
    ]);
  });

  it('stops what keeps it up to date with the app', () => {
    const sut = new AuthClusters({ maxClusters: 1 });
    let stopped = 0;
    sut.addStopper(() => stopped++);
    sut.onModuleDestroy();
    sut.onModuleDestroy();
    expect(stopped).toBe(1);
  });
});
