// The adapters' mapping without AWS: a stub `send` answers as real AWS does where moto is
// looser (ResourceInUseException, "\052" in record names, trailing dots, alias without TTL,
// paging by record identifier), so our handling of the real behaviour is tested, not assumed.
import t from 'tap';
import { AcmAdapter, acmIdempotencyToken } from '../../reconcile/aws/acm.js';
import { Route53Adapter, ChangeBatchTooLargeError, normaliseDnsName, changeBatchCost } from '../../reconcile/aws/route53.js';
import { Elbv2Adapter } from '../../reconcile/aws/elbv2.js';
import type { RecordChange } from '../../reconcile/ports.js';

type Sent = { name: string; input: Record<string, unknown> };

/** A stand-in SDK client: each command goes to `answer`, by command name. */
function stubClient(answer: (name: string, input: Record<string, unknown>, n: number) => unknown) {
  const sent: Sent[] = [];
  return {
    sent,
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      sent.push({ name, input: command.input });
      const result = answer(name, command.input, sent.filter((s) => s.name === name).length);
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

const awsError = (name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } });

t.test('ACM IdempotencyToken: a request UID becomes its 32 hex digits (ACM allows \\w{1,32})', async (t) => {
  t.equal(acmIdempotencyToken('0c4b0d3e-1111-2222-3333-444455556666'), '0c4b0d3e111122223333444455556666');
  t.equal(acmIdempotencyToken('short'), 'short');
  t.throws(() => acmIdempotencyToken('---'));
});

t.test('ACM deleteCertificate maps AWS refusals', async (t) => {
  // Real ACM refuses to delete a certificate a listener still carries; moto deletes it anyway,
  // so this mapping is only testable here.
  const inUse = stubClient(() => awsError('ResourceInUseException'));
  t.equal(await new AcmAdapter(inUse as never).deleteCertificate('arn:x'), 'in-use');
  const missing = stubClient(() => awsError('ResourceNotFoundException'));
  t.equal(await new AcmAdapter(missing as never).deleteCertificate('arn:x'), 'not-found');
  const denied = stubClient(() => awsError('AccessDeniedException'));
  await t.rejects(new AcmAdapter(denied as never).deleteCertificate('arn:x'), { name: 'AccessDeniedException' });
  const ok = stubClient(() => ({}));
  t.equal(await new AcmAdapter(ok as never).deleteCertificate('arn:x'), 'deleted');
});

t.test('ACM listCertificates pages, asks for every status and key type, and describes summaries that lack Status or InUse', async (t) => {
  const client = stubClient((name, input, n) => {
    if (name === 'ListCertificates') {
      if (n === 1) return { CertificateSummaryList: [{ CertificateArn: 'arn:1', DomainName: 'A.example.com', Status: 'ISSUED', InUse: true }], NextToken: 'p2' };
      t.equal(input['NextToken'], 'p2');
      return { CertificateSummaryList: [{ CertificateArn: 'arn:2', DomainName: 'b.example.com' }] };
    }
    if (name === 'DescribeCertificate') {
      return { Certificate: { CertificateArn: 'arn:2', DomainName: 'b.example.com', Status: 'PENDING_VALIDATION', InUseBy: [] } };
    }
    return new Error(`unexpected ${name}`);
  });
  const list = await new AcmAdapter(client as never).listCertificates();
  t.same(list, [
    { arn: 'arn:1', domainName: 'a.example.com', status: 'ISSUED', inUse: true },
    { arn: 'arn:2', domainName: 'b.example.com', status: 'PENDING_VALIDATION', inUse: false },
  ]);
  const first = client.sent[0]!.input;
  t.equal((first['CertificateStatuses'] as string[]).length, 7, 'every status, not only the default set');
  t.ok(((first['Includes'] as { keyTypes: string[] }).keyTypes).includes('EC_prime256v1'), 'not only RSA_2048 keys');
});

t.test('ACM describeCertificate: validation records without trailing dots; a record ACM has not filled in yet is left out', async (t) => {
  const client = stubClient(() => ({
    Certificate: {
      CertificateArn: 'arn:1',
      DomainName: 'app.example.com',
      Status: 'FAILED',
      FailureReason: 'CAA_ERROR',
      InUseBy: ['arn:listener'],
      DomainValidationOptions: [
        { DomainName: 'app.example.com', ResourceRecord: { Name: '_abc.App.example.com.', Type: 'CNAME', Value: '_def.acm-validations.aws.' } },
        { DomainName: 'www.app.example.com' },
      ],
    },
  }));
  t.same(await new AcmAdapter(client as never).describeCertificate('arn:1'), {
    arn: 'arn:1',
    domainName: 'app.example.com',
    status: 'FAILED',
    inUse: true,
    inUseBy: ['arn:listener'],
    failureReason: 'CAA_ERROR',
    validationRecords: [{ domainName: 'app.example.com', name: '_abc.app.example.com', type: 'CNAME', value: '_def.acm-validations.aws' }],
  });
  const gone = stubClient(() => awsError('ResourceNotFoundException'));
  t.equal(await new AcmAdapter(gone as never).describeCertificate('arn:1'), undefined);
});

t.test('Route53 names: "\\052" and other octal escapes decoded, lower-case, no trailing dot', async (t) => {
  t.equal(normaliseDnsName('\\052.Apps.Example.com.'), '*.apps.example.com');
  t.equal(normaliseDnsName('a\\100b.example.com.'), 'a@b.example.com');
  t.equal(normaliseDnsName('example.com'), 'example.com');
});

t.test('Route53 listRecords: pages by name, type and identifier; alias records carry no TTL', async (t) => {
  const client = stubClient((name, input, n) => {
    if (n === 1) {
      return {
        ResourceRecordSets: [
          { Name: '\\052.example.com.', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: 'x.example.net' }] },
          { Name: 'a.example.com.', Type: 'A', TTL: 0, AliasTarget: { HostedZoneId: 'Z215', DNSName: 'dualstack.My-Alb-1.eu-central-1.elb.amazonaws.com.', EvaluateTargetHealth: true } },
        ],
        IsTruncated: true,
        NextRecordName: 'b.example.com.',
        NextRecordType: 'A',
        NextRecordIdentifier: 'blue',
      };
    }
    t.match(input, { HostedZoneId: 'Z1', StartRecordName: 'b.example.com.', StartRecordType: 'A', StartRecordIdentifier: 'blue' });
    return { ResourceRecordSets: [{ Name: 'a.example.com.', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"owner=me"' }] }], IsTruncated: false };
  });
  const records = await new Route53Adapter(client as never).listRecords('/hostedzone/Z1');
  t.same(records, [
    { name: '*.example.com', type: 'CNAME', ttl: 300, values: ['x.example.net'] },
    { name: 'a.example.com', type: 'A', aliasTarget: { hostedZoneId: 'Z215', dnsName: 'dualstack.my-alb-1.eu-central-1.elb.amazonaws.com', evaluateTargetHealth: true } },
    { name: 'a.example.com', type: 'TXT', ttl: 60, values: ['"owner=me"'] },
  ]);
  t.equal(client.sent.length, 2);
});

t.test('Route53 changeRecords: one batch, nothing sent for no changes, too-large batches refused before any call', async (t) => {
  const client = stubClient(() => ({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } }));
  const adapter = new Route53Adapter(client as never);
  await adapter.changeRecords('Z1', []);
  t.equal(client.sent.length, 0, 'no call for an empty batch');

  const txt = (i: number, action: RecordChange['action'] = 'CREATE'): RecordChange => ({ action, record: { name: `r${i}.Example.com`, type: 'TXT', ttl: 60, values: [`"v${i}"`] } });
  await adapter.changeRecords('Z1', [txt(1), { action: 'DELETE', record: { name: 'a.example.com', type: 'A', aliasTarget: { hostedZoneId: 'Z215', dnsName: 'lb.example', evaluateTargetHealth: false } } }]);
  t.equal(client.sent.length, 1);
  t.same(client.sent[0]!.input, {
    HostedZoneId: 'Z1',
    ChangeBatch: {
      Changes: [
        { Action: 'CREATE', ResourceRecordSet: { Name: 'r1.example.com', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"v1"' }] } },
        { Action: 'DELETE', ResourceRecordSet: { Name: 'a.example.com', Type: 'A', AliasTarget: { HostedZoneId: 'Z215', DNSName: 'lb.example', EvaluateTargetHealth: false } } },
      ],
    },
  });

  const tooMany = Array.from({ length: 1001 }, (_, i) => txt(i));
  await t.rejects(adapter.changeRecords('Z1', tooMany), ChangeBatchTooLargeError);
  const upserts = Array.from({ length: 501 }, (_, i) => txt(i, 'UPSERT'));
  t.equal(changeBatchCost(upserts).records, 1002, 'an UPSERT counts twice');
  await t.rejects(adapter.changeRecords('Z1', upserts), /1002 records/);
  const long = [{ action: 'CREATE' as const, record: { name: 'big.example.com', type: 'TXT', ttl: 60, values: Array.from({ length: 200 }, () => `"${'x'.repeat(198)}"`) } }];
  await t.rejects(adapter.changeRecords('Z1', long), /value characters/);
  t.equal(client.sent.length, 1, 'refused batches never reached AWS');
});

t.test('Route53 getHostedZone: bare id, normalised name, undefined when missing', async (t) => {
  const client = stubClient((_, input) =>
    input['Id'] === 'Z1' ? { HostedZone: { Id: '/hostedzone/Z1', Name: 'Example.com.', Config: { PrivateZone: true } } } : awsError('NoSuchHostedZone'),
  );
  const adapter = new Route53Adapter(client as never);
  t.same(await adapter.getHostedZone('/hostedzone/Z1'), { id: 'Z1', name: 'example.com', privateZone: true });
  t.equal(await adapter.getHostedZone('Z404'), undefined);
});

t.test('ELBv2 describeListenerCertificates: the default certificate once, even when AWS lists it twice', async (t) => {
  const client = stubClient((_, input, n) =>
    n === 1
      ? { Certificates: [{ CertificateArn: 'arn:d', IsDefault: true }, { CertificateArn: 'arn:d', IsDefault: false }], NextMarker: 'm' }
      : (t.equal(input['Marker'], 'm'), { Certificates: [{ CertificateArn: 'arn:b', IsDefault: false }] }),
  );
  t.same(await new Elbv2Adapter(client as never).describeListenerCertificates('arn:l'), ['arn:d', 'arn:b']);
});
