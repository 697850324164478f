import { describe, expect, it } from 'vitest';
import { SubjectMapping } from '../../src/auth/subject-mapping.js';
import { Dn } from '../../src/core/dn.js';
import { subjectDn } from '../../src/frontend/client-certificate.js';

describe('subjectDn', () => {
  it("turns Node's X.509 subject (most significant RDN first, one a line) into an RFC 4514 DN", () => {
    // As X509Certificate.subject prints `/DC=org/DC=example/OU=People/CN=J\, Doe+UID=jdoe/emailAddress=j@x.org`.
    const subject = subjectDn('DC=org\nDC=example\nOU=People\nCN=J\\, Doe + UID=jdoe\nemailAddress=j@x.org');
    expect(subject).toBe('emailAddress=j@x.org,CN=J\\, Doe+UID=jdoe,OU=People,DC=example,DC=org');
    expect(Dn.parse(subject).equals(Dn.parse('emailaddress=j@x.org,uid=jdoe+cn=j\\2c doe,ou=people,dc=example,dc=org'))).toBe(true);
    expect(subjectDn('CN=a \\+ b')).toBe('CN=a \\+ b'); // an escaped "+" is no RDN separator
    expect(subjectDn('')).toBe('');
  });
});

describe('SubjectMapping', () => {
  const mapping = new SubjectMapping([
    { subject: 'CN=([^,]+),OU=Services,O=Example', dn: 'cn=$1,ou=accounts' },
    { subject: 'CN=(?<who>[^,]+),O=Example', dn: 'uid=$<who>,ou=people,dc=example,dc=com' },
    { subject: 'CN=broken', dn: 'not a dn' },
  ]);

  it('applies the first rule matching the whole subject, ignoring case, with its groups', () => {
    expect(mapping.map('CN=sync,OU=Services,O=Example').text).toBe('cn=sync,ou=accounts');
    expect(mapping.map('cn=sync,ou=services,o=example').text).toBe('cn=sync,ou=accounts');
    expect(mapping.map('CN=alice,O=Example').text).toBe('uid=alice,ou=people,dc=example,dc=com');
  });

  it('leaves a subject no rule matches as it is: rules are anchored', () => {
    expect(mapping.map('CN=sync,OU=Services,O=Example,C=XX').text).toBe('CN=sync,OU=Services,O=Example,C=XX');
    expect(mapping.map('UID=alice,DC=example,DC=com').text).toBe('UID=alice,DC=example,DC=com');
  });

  it('refuses with invalidCredentials what gives no DN, naming the rule', () => {
    expect(() => mapping.map('CN=broken')).toThrow(expect.objectContaining({ code: 49, message: expect.stringContaining('the tls.subjectMapping rule') }));
  });
});
