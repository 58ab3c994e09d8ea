import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { forwardedMetadata } from './forwarded-metadata.js';

describe('forwardedMetadata', () => {
  it('forwards only authorization and clusterid, values unchanged', () => {
    const incoming = new Metadata();
    incoming.set('authorization', 'Bearer t');
    incoming.set('clusterid', 'remote');
    incoming.set('x-other', 'nope');
    incoming.set('user-agent', 'istioctl');
    const sut = forwardedMetadata(incoming);
    expect(sut.getMap()).toEqual({ authorization: 'Bearer t', clusterid: 'remote' });
  });

  it('keeps every value of a repeated key and adds nothing the caller did not send', () => {
    const incoming = new Metadata();
    incoming.add('clusterid', 'east');
    incoming.add('clusterid', 'west');
    const sut = forwardedMetadata(incoming);
    expect(sut.get('clusterid')).toEqual(['east', 'west']);
    expect(sut.get('authorization')).toEqual([]);
  });

  it('sends the cluster that accepted the token as clusterid, whatever the caller sent', () => {
    const incoming = new Metadata();
    incoming.set('authorization', 'Bearer t');
    expect(forwardedMetadata(incoming, 'west').getMap()).toEqual({ authorization: 'Bearer t', clusterid: 'west' });
    incoming.set('clusterid', 'west');
    expect(forwardedMetadata(incoming, 'west').get('clusterid')).toEqual(['west']);
    expect(forwardedMetadata(incoming, '').get('clusterid')).toEqual(['west']);
  });

  it('returns a new Metadata, so the caller metadata is never sent as is', () => {
    const incoming = new Metadata();
    expect(forwardedMetadata(incoming)).not.toBe(incoming);
  });
});
