// Certificates for serving the webhook over HTTPS: a CA whose certificate goes into the webhook
// configurations' caBundle, and a serving certificate it signs for the webhook Service's names.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

// Keys and signatures come from Node's crypto for both key types; node-forge only encodes the
// certificate (names, validity, extensions). node-forge cannot put an ECDSA key in a certificate
// nor sign with one, and its pure-JavaScript RSA key generation takes seconds where OpenSSL's
// takes tens of milliseconds. So ECDSA P-256 is supported as fully as RSA 2048.
export type KeyType = 'rsa' | 'ecdsa';

export const keyTypes: readonly KeyType[] = ['rsa', 'ecdsa'];

/** The DNS names the API server uses for a Service: `svc`, `svc.ns`, `svc.ns.svc`, and the FQDN. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/** The names of driftgate's own Service, plus `localhost` for a port-forward or a local run. */
export const defaultDnsNames: readonly string[] = [
  ...serviceDnsNames('driftgate', 'driftgate'),
  'localhost',
];
export const defaultIpAddresses: readonly string[] = ['127.0.0.1'];

export const defaultCaValidityDays = 3650;
export const defaultValidityDays = 365;

/** How far `notBefore` lies in the past, so a node whose clock is a little behind accepts it. */
export const clockSkewMs = 5 * 60 * 1000;

export interface CertificateOptions {
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly keyType?: KeyType;
  readonly caValidityDays?: number;
  readonly validityDays?: number;
  /** The moment the certificates are issued at. */
  readonly now?: Date;
  readonly caCommonName?: string;
}

/** PEM text: certificates as `CERTIFICATE`, keys as PKCS#8 `PRIVATE KEY`. */
export interface GeneratedCertificates {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A new CA and a serving certificate signed by it. */
export function generateCertificates(options: CertificateOptions = {}): GeneratedCertificates {
  const dnsNames = options.dnsNames ?? defaultDnsNames;
  const ipAddresses = options.ipAddresses ?? defaultIpAddresses;
  const keyType = options.keyType ?? 'rsa';
  const caDays = options.caValidityDays ?? defaultCaValidityDays;
  const days = options.validityDays ?? defaultValidityDays;
  const now = options.now ?? new Date();
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new RangeError('a serving certificate needs at least one DNS name or IP address');
  }
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new RangeError(`not an IP address: '${ip}'`);
  }
  if (!isPositiveDays(caDays) || !isPositiveDays(days)) {
    throw new RangeError('validity must be a positive whole number of days');
  }
  // A serving certificate that outlives its CA stops being trusted when the CA expires anyway.
  if (days > caDays) throw new RangeError('the serving certificate must not outlive its CA');

  const notBefore = new Date(now.getTime() - clockSkewMs);
  const ca = newKeyPair(keyType);
  const caName = [{ name: 'commonName', value: options.caCommonName ?? 'driftgate CA' }];
  const caCert = issue({
    subject: caName,
    issuer: caName,
    subjectKey: ca.publicKey,
    issuerKey: ca.privateKey,
    issuerKeyId: keyIdentifier(ca.publicKey),
    notBefore,
    notAfter: new Date(now.getTime() + caDays * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });

  const serving = newKeyPair(keyType);
  const commonName = dnsNames[0] ?? ipAddresses[0] ?? '';
  const cert = issue({
    subject: [{ name: 'commonName', value: commonName }],
    issuer: caName,
    subjectKey: serving.publicKey,
    issuerKey: ca.privateKey,
    issuerKeyId: keyIdentifier(ca.publicKey),
    notBefore,
    notAfter: new Date(now.getTime() + days * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // keyEncipherment is for RSA key exchange; RFC 5480 rules it out for an EC key.
      {
        name: 'keyUsage',
        digitalSignature: true,
        keyEncipherment: keyType === 'rsa',
        critical: true,
      },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2, value })),
          ...ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    ],
  });

  return {
    caCert,
    caKey: privateKeyPem(ca.privateKey),
    cert,
    key: privateKeyPem(serving.privateKey),
  };
}

export interface DevelopmentCertificate {
  readonly cert: string;
  readonly key: string;
  /** The CA a client must trust to reach the server; its key is not kept. */
  readonly caCert: string;
}

/**
 * A serving certificate for a server run without certificate files, valid for `hosts` (DNS
 * names or IP addresses). It is signed by a throwaway CA, so a client trusts exactly this run.
 */
export function selfSignedForDevelopment(
  hosts: readonly string[] = ['localhost', '127.0.0.1'],
  now: Date = new Date(),
): DevelopmentCertificate {
  const { caCert, cert, key } = generateCertificates({
    dnsNames: hosts.filter((host) => isIP(host) === 0),
    ipAddresses: hosts.filter((host) => isIP(host) !== 0),
    caCommonName: 'driftgate development CA',
    now,
  });
  return { cert, key, caCert };
}

interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

function newKeyPair(keyType: KeyType): KeyPair {
  return keyType === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function isPositiveDays(days: number): boolean {
  return Number.isSafeInteger(days) && days > 0;
}

const { asn1 } = forge;

// Public in node-forge but missing from its type definitions.
const pki = forge.pki as typeof forge.pki & {
  certificateExtensionsToAsn1(extensions: unknown[]): forge.asn1.Asn1;
};

interface Issue {
  readonly subject: forge.pki.CertificateField[];
  readonly issuer: forge.pki.CertificateField[];
  readonly subjectKey: KeyObject;
  readonly issuerKey: KeyObject;
  readonly issuerKeyId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly object[];
}

/** An X.509 v3 certificate (RFC 5280 §4.1) as PEM, signed with SHA-256 by `issuerKey`. */
function issue(spec: Issue): string {
  // A forge certificate object only to have forge fill in the names' and extensions' encodings.
  const fields = pki.createCertificate();
  fields.setSubject(spec.subject);
  fields.setIssuer(spec.issuer);
  const subjectKeyId = keyIdentifier(spec.subjectKey);
  fields.setExtensions([
    ...spec.extensions,
    // Both given as values: forge would derive the authority key identifier from the subject's
    // own key, which is right only for a self-signed certificate.
    { name: 'subjectKeyIdentifier', value: octetString(subjectKeyId) },
    {
      name: 'authorityKeyIdentifier',
      value: sequence([tagged(0, false, spec.issuerKeyId)]),
    },
  ]);

  const algorithm = signatureAlgorithm(spec.issuerKey);
  const tbs = sequence([
    tagged(0, true, [integer(asn1.integerToDer(2).getBytes())]), // v3
    integer(randomSerial()),
    algorithm,
    pki.distinguishedNameToAsn1(fields.issuer),
    sequence([time(spec.notBefore), time(spec.notAfter)]),
    pki.distinguishedNameToAsn1(fields.subject),
    asn1.fromDer(binary(spec.subjectKey.export({ type: 'spki', format: 'der' }))),
    pki.certificateExtensionsToAsn1(fields.extensions),
  ]);
  const tbsDer = asn1.toDer(tbs).getBytes();
  // RSA keys sign with PKCS#1 v1.5, EC keys produce the DER ECDSA-Sig-Value X.509 wants.
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), spec.issuerKey);
  const certificate = sequence([
    tbs,
    algorithm,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\0${binary(signature)}`),
  ]);
  return pem('CERTIFICATE', Buffer.from(asn1.toDer(certificate).getBytes(), 'binary'));
}

// RFC 7468 text with LF line ends (forge's encoder writes CRLF, which shows up in the caBundle).
function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const oids = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
};

function signatureAlgorithm(key: KeyObject): forge.asn1.Asn1 {
  const oid = (id: string) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
  // RFC 4055 wants NULL parameters for RSA; RFC 5758 wants none for ECDSA.
  return key.asymmetricKeyType === 'ec'
    ? sequence([oid(oids.ecdsaWithSHA256)])
    : sequence([
        oid(oids.sha256WithRSAEncryption),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ]);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, as a binary string. */
function keyIdentifier(publicKey: KeyObject): string {
  return binary(createHash('sha1').update(subjectPublicKey(publicKey)).digest());
}

// The key itself, without the algorithm SubjectPublicKeyInfo wraps it in: an RSAPublicKey
// (RFC 8017) or an uncompressed EC point (SEC 1 §2.3.3).
function subjectPublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType === 'rsa') {
    return publicKey.export({ type: 'pkcs1', format: 'der' });
  }
  const { x, y } = publicKey.export({ format: 'jwk' });
  if (x === undefined || y === undefined) throw new Error('expected an EC public key');
  return Buffer.concat([Buffer.of(0x04), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
}

/** 16 random bytes read as a positive integer with a minimal DER encoding (RFC 5280 §4.1.2.2). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return binary(bytes);
}

// UTCTime until 2049, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5).
function time(date: Date): forge.asn1.Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(
        asn1.Class.UNIVERSAL,
        asn1.Type.GENERALIZEDTIME,
        false,
        asn1.dateToGeneralizedTime(date),
      );
}

// Context-specific tags are plain numbers; forge's types only name the universal ones.
function tagged(tag: number, constructed: boolean, value: string | forge.asn1.Asn1[]) {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- see above
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, constructed, value);
}

function sequence(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

function integer(bytes: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function octetString(bytes: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
}

/** forge keeps bytes in "binary" strings, one char per byte. */
function binary(bytes: Buffer): string {
  return bytes.toString('binary');
}
