// Certificates as a TLS client and the Kubernetes API server read them: checked with Node's own
// X.509 parser, and extensions decoded with node-forge's independent one.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import {
  clockSkewMs,
  defaultDnsNames,
  generateCertificates,
  selfSignedForDevelopment,
  serviceDnsNames,
  type CertificateOptions,
  type KeyType,
} from './generate.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const now = new Date('2026-03-01T12:00:00Z');

const pki = forge.pki as typeof forge.pki & {
  certificateExtensionsFromAsn1(extensions: forge.asn1.Asn1): any[];
};

/** Extensions by name, with forge's decoding of key usage bits and basic constraints. */
function extensionsOf(cert: X509Certificate): Map<string, any> {
  const certificate = forge.asn1.fromDer(cert.raw.toString('binary'));
  const tbs = (certificate.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const explicit = tbs.find(
    (node) => node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (node.type as number) === 3,
  )!;
  return new Map(pki.certificateExtensionsFromAsn1(explicit).map((e) => [e.name, e]));
}

function authorityKeyIdOf(cert: X509Certificate): string {
  const value = forge.asn1.fromDer(extensionsOf(cert).get('authorityKeyIdentifier').value);
  return forge.util.bytesToHex((value.value as forge.asn1.Asn1[])[0]!.value as string);
}

function parse(keyType: KeyType, options: CertificateOptions = {}) {
  const pem = generateCertificates({ keyType, now, ...options });
  return {
    pem,
    ca: new X509Certificate(pem.caCert),
    cert: new X509Certificate(pem.cert),
  };
}

describe.each([
  {
    keyType: 'rsa' as const,
    signatureAlgorithm: 'sha256WithRSAEncryption',
    key: { asymmetricKeyType: 'rsa', asymmetricKeyDetails: { modulusLength: 2048 } },
  },
  {
    keyType: 'ecdsa' as const,
    signatureAlgorithm: 'ecdsa-with-SHA256',
    key: { asymmetricKeyType: 'ec', asymmetricKeyDetails: { namedCurve: 'prime256v1' } },
  },
])('generateCertificates with $keyType keys', ({ keyType, signatureAlgorithm, key }) => {
  const { pem, ca, cert } = parse(keyType);

  it('makes a self-signed CA certificate', () => {
    expect(ca.subject).toBe('CN=driftgate CA');
    expect(ca.issuer).toBe(ca.subject);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    const extensions = extensionsOf(ca);
    expect(extensions.get('basicConstraints')).toMatchObject({ critical: true, cA: true });
    expect(extensions.get('keyUsage')).toMatchObject({
      critical: true,
      keyCertSign: true,
      cRLSign: true,
      digitalSignature: false,
      keyEncipherment: false,
    });
    expect(extensions.get('subjectKeyIdentifier').subjectKeyIdentifier).toMatch(/^[0-9a-f]{40}$/);
  });

  it('makes a serving certificate the CA signed', () => {
    expect(cert.issuer).toBe(ca.subject);
    expect(cert.subject).toBe('CN=driftgate');
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(false);
    const extensions = extensionsOf(cert);
    expect(extensions.get('basicConstraints')).toMatchObject({ critical: true, cA: false });
    expect(extensions.get('keyUsage')).toMatchObject({
      critical: true,
      digitalSignature: true,
      // RSA key exchange needs it; an EC key must not claim it (RFC 5480).
      keyEncipherment: keyType === 'rsa',
      keyCertSign: false,
    });
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extKeyUsage serverAuth
  });

  it('names the CA key as the authority key, so clients can find the issuer', () => {
    const caKeyId = extensionsOf(ca).get('subjectKeyIdentifier').subjectKeyIdentifier;
    const servingKeyId = extensionsOf(cert).get('subjectKeyIdentifier').subjectKeyIdentifier;
    expect(authorityKeyIdOf(cert)).toBe(caKeyId);
    expect(authorityKeyIdOf(ca)).toBe(caKeyId);
    expect(servingKeyId).not.toBe(caKeyId);
  });

  it.each(defaultDnsNames)('is valid for the host name %s', (host) => {
    expect(cert.checkHost(host)).toBe(host);
  });

  it('is valid for 127.0.0.1 and not for other names', () => {
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    expect(cert.checkHost('driftgate.other.svc')).toBeUndefined();
  });

  it(`uses ${keyType} keys, signed with SHA-256, returned as PKCS#8 PEM`, () => {
    expect(ca.signatureAlgorithm).toBe(signatureAlgorithm);
    expect(cert.signatureAlgorithm).toBe(signatureAlgorithm);
    expect(cert.publicKey).toMatchObject(key);
    expect(ca.publicKey).toMatchObject(key);
    expect(pem.cert).toMatch(
      /^-----BEGIN CERTIFICATE-----\n(.{64}\n)+.{1,64}\n-----END CERTIFICATE-----\n$/,
    );
    expect(pem.caCert).not.toContain('\r');
    expect(pem.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pem.caKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(pem.key))).toBe(true);
    expect(ca.checkPrivateKey(createPrivateKey(pem.caKey))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(pem.caKey))).toBe(false);
  });

  it('gives each certificate a random positive 16-byte serial', () => {
    const again = parse(keyType);
    const serials = [ca, cert, again.ca, again.cert].map((c) => c.serialNumber);
    expect(new Set(serials).size).toBe(4);
    for (const serial of serials) expect(serial).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('is not trusted under another CA', () => {
    const other = parse(keyType).ca;
    expect(cert.verify(other.publicKey)).toBe(false);
  });
});

describe('validity', () => {
  it.each([
    {
      name: 'defaults: CA 10 years, serving certificate 1 year',
      options: {},
      caDays: 3650,
      days: 365,
    },
    { name: 'custom days', options: { caValidityDays: 30, validityDays: 7 }, caDays: 30, days: 7 },
    {
      name: 'equal days',
      options: { caValidityDays: 90, validityDays: 90 },
      caDays: 90,
      days: 90,
    },
    {
      name: 'past 2049, where dates switch to GeneralizedTime',
      options: { caValidityDays: 36_500, validityDays: 10_000 },
      caDays: 36_500,
      days: 10_000,
    },
  ])('$name', ({ options, caDays, days }) => {
    const { ca, cert } = parse('ecdsa', options);
    const notBefore = new Date(now.getTime() - clockSkewMs);
    expect(ca.validFromDate).toEqual(notBefore);
    expect(cert.validFromDate).toEqual(notBefore);
    expect(ca.validToDate).toEqual(new Date(now.getTime() + caDays * DAY_MS));
    expect(cert.validToDate).toEqual(new Date(now.getTime() + days * DAY_MS));
  });

  it('starts a few minutes early, for nodes whose clocks are behind', () => {
    expect(clockSkewMs).toBeGreaterThanOrEqual(60_000);
    expect(clockSkewMs).toBeLessThanOrEqual(15 * 60_000);
  });
});

describe('names', () => {
  it('covers the names the API server uses for a Service', () => {
    expect(serviceDnsNames('gate', 'ops')).toEqual([
      'gate',
      'gate.ops',
      'gate.ops.svc',
      'gate.ops.svc.cluster.local',
    ]);
  });

  it('puts the given DNS names and IPv4 and IPv6 addresses in the serving certificate', () => {
    const { cert } = parse('ecdsa', {
      dnsNames: ['webhook.example.com', '*.internal.example'],
      ipAddresses: ['10.1.2.3', '::1'],
    });
    expect(cert.subject).toBe('CN=webhook.example.com');
    expect(cert.checkHost('webhook.example.com')).toBe('webhook.example.com');
    // checkHost answers with the name in the certificate that matched.
    expect(cert.checkHost('a.internal.example')).toBe('*.internal.example');
    expect(cert.checkHost('localhost')).toBeUndefined();
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('127.0.0.1')).toBeUndefined();
  });

  it('names the CA as asked', () => {
    expect(parse('ecdsa', { caCommonName: 'shop webhooks' }).ca.subject).toBe('CN=shop webhooks');
  });
});

describe('generateCertificates refuses what cannot make a usable certificate', () => {
  it.each([
    {
      name: 'no names at all',
      options: { dnsNames: [], ipAddresses: [] },
      message: /at least one DNS name or IP address/,
    },
    { name: 'a bad IP address', options: { ipAddresses: ['1.2.3'] }, message: /not an IP/ },
    { name: 'zero days', options: { validityDays: 0 }, message: /positive whole number/ },
    { name: 'fractional days', options: { caValidityDays: 1.5 }, message: /positive whole/ },
    {
      name: 'a serving certificate outliving its CA',
      options: { caValidityDays: 30, validityDays: 31 },
      message: /must not outlive its CA/,
    },
  ])('$name', ({ options, message }) => {
    expect(() => generateCertificates(options)).toThrow(message);
  });
});

describe('selfSignedForDevelopment', () => {
  it('serves localhost and 127.0.0.1 by default, under a CA of its own', () => {
    const dev = selfSignedForDevelopment();
    const cert = new X509Certificate(dev.cert);
    const ca = new X509Certificate(dev.caCert);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(dev.key))).toBe(true);
    expect(ca.subject).toBe('CN=driftgate development CA');
    expect(Object.keys(dev).sort()).toEqual(['caCert', 'cert', 'key']);
  });

  it('sorts the hosts it is given into DNS names and IP addresses', () => {
    const dev = selfSignedForDevelopment(['dev.example', '192.168.1.5', '::1']);
    const cert = new X509Certificate(dev.cert);
    expect(cert.subjectAltName).toBe(
      'DNS:dev.example, IP Address:192.168.1.5, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(cert.checkHost('localhost')).toBeUndefined();
  });

  it('makes a new CA each time, so one run never trusts another', () => {
    const first = new X509Certificate(selfSignedForDevelopment().cert);
    const second = new X509Certificate(selfSignedForDevelopment().caCert);
    expect(first.verify(second.publicKey)).toBe(false);
  });
});
