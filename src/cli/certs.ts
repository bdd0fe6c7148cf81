// `driftgate certs`: create the CA and serving certificate the webhook needs, write them to a
// directory and print the caBundle for the webhook configurations. Exit 0 written, 2 bad input.
import { isIP } from 'node:net';
import { basename, join, resolve } from 'node:path';
import {
  defaultCaValidityDays,
  defaultIpAddresses,
  defaultValidityDays,
  generateCertificates,
  keyTypes,
  serviceDnsNames,
  type KeyType,
} from '../certs/generate.js';
import { CertificateFilesExistError, writeCertificates } from '../certs/write.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { certsOptions } from './options.js';

const HELP = `Usage: driftgate certs [options]

Creates a CA and a serving certificate signed by it, writes ca.crt, ca.key, tls.crt and tls.key
to a directory, and prints the caBundle to put in the webhook configurations. The serving
certificate is valid for the Service's DNS names, localhost and 127.0.0.1.

Options:
  --out DIR            where to write the files (default certs)
  --service NAME       the webhook's Service (default driftgate)
  --namespace NS       the Service's namespace (default driftgate)
  --dns NAME           one more DNS name for the serving certificate (repeatable)
  --ip ADDR            one more IP address for the serving certificate (repeatable)
  --days N             serving certificate validity in days (default ${defaultValidityDays})
  --ca-days N          CA validity in days (default ${defaultCaValidityDays})
  --key-type TYPE      rsa (RSA 2048, default) or ecdsa (ECDSA P-256)
  --force              replace files that already exist

Exit status: 0 written, 2 bad input or files already there.
`;

// A hundred years: longer is a typo, and dates that far out are not worth encoding.
const MAX_DAYS = 36_500;

export const certsCommand: Command = async (argv, io) => {
  const values = parseCommandArgs(argv, certsOptions, HELP);
  if (values.help === true) {
    io.stdout(HELP);
    return exitCodes.ok;
  }

  const keyType = values['key-type'];
  if (!isKeyType(keyType)) {
    throw new UsageError(`--key-type must be ${keyTypes.join(' or ')}, not '${keyType}'`);
  }
  const days = parseDays('--days', values.days ?? String(defaultValidityDays));
  const caDays = parseDays('--ca-days', values['ca-days'] ?? String(defaultCaValidityDays));
  if (days > caDays) {
    throw new UsageError(
      `--days ${days} is longer than --ca-days ${caDays}: the serving certificate would outlive its CA`,
    );
  }
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.service)) {
    throw new UsageError(
      `--service '${values.service}' is not a Service name (lower-case letters, digits and '-', starting with a letter)`,
    );
  }
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.namespace)) {
    throw new UsageError(
      `--namespace '${values.namespace}' is not a namespace name (lower-case letters, digits and '-')`,
    );
  }
  const extraDns = values.dns.map((name) => name.toLowerCase());
  for (const name of extraDns) {
    if (!isDnsName(name)) throw new UsageError(`--dns '${name}' is not a DNS name`);
  }
  for (const ip of values.ip) {
    if (isIP(ip) === 0) throw new UsageError(`--ip '${ip}' is not an IPv4 or IPv6 address`);
  }

  const dnsNames = unique([
    ...serviceDnsNames(values.service, values.namespace),
    'localhost',
    ...extraDns,
  ]);
  const ipAddresses = unique([...defaultIpAddresses, ...values.ip]);
  const certificates = generateCertificates({
    dnsNames,
    ipAddresses,
    keyType,
    validityDays: days,
    caValidityDays: caDays,
  });

  let written;
  try {
    written = await writeCertificates(resolve(io.cwd, values.out), certificates, {
      force: values.force,
    });
  } catch (error) {
    if (error instanceof CertificateFilesExistError) {
      const names = error.paths.map((path) => join(values.out, basename(path)));
      const verb = names.length === 1 ? 'exists' : 'exist';
      throw new UsageError(`${names.join(', ')} already ${verb}: pass --force to replace them`);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EEXIST') {
      throw new UsageError(`cannot write to ${values.out} (${code})`);
    }
    throw error;
  }

  const describe: Record<string, string> = {
    'ca.crt': `CA certificate, valid for ${caDays} days`,
    'ca.key': 'CA private key: keep it secret, it can sign certificates the webhook trusts',
    'tls.crt': `serving certificate, valid for ${days} days`,
    'tls.key': 'serving private key',
  };
  const lines = written.map(({ path }) => {
    const name = basename(path);
    return `Wrote ${join(values.out, name)} (${describe[name] ?? name})`;
  });
  const caBundle = Buffer.from(certificates.caCert).toString('base64');
  io.stdout(
    [
      ...lines,
      '',
      `The serving certificate is valid for: ${[...dnsNames, ...ipAddresses].join(', ')}`,
      '',
      'Serve with tls.crt and tls.key, for example from a TLS Secret:',
      `  kubectl -n ${values.namespace} create secret tls ${values.service}-tls --cert=${join(values.out, 'tls.crt')} --key=${join(values.out, 'tls.key')}`,
      '',
      "Put this line under clientConfig in each webhook of driftgate's",
      'ValidatingWebhookConfiguration and MutatingWebhookConfiguration:',
      `caBundle: ${caBundle}`,
      '',
    ].join('\n'),
  );
  return exitCodes.ok;
};

function isKeyType(value: string): value is KeyType {
  return (keyTypes as readonly string[]).includes(value);
}

function parseDays(option: string, text: string): number {
  const days = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 1 && days <= MAX_DAYS)) {
    throw new UsageError(
      `${option} must be a whole number of days from 1 to ${MAX_DAYS}, not '${text}'`,
    );
  }
  return days;
}

// RFC 1123 host names, with a leading `*.` wildcard allowed as certificates allow it.
function isDnsName(name: string): boolean {
  const label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  const labels = name.startsWith('*.') ? name.slice(2).split('.') : name.split('.');
  return name.length <= 253 && labels.every((part) => label.test(part));
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
