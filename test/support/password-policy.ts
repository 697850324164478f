/** A bind with the password policy request control (draft-behera), as a client reading why a login failed sends it. */
import { Client, PasswordPolicyControl, ResultCodeError } from 'ldapts';

/** Binds with the request control; the response control's value and the error, if any. */
export async function bindWithPolicy(url: string, name: string, password: string): Promise<{ error?: ResultCodeError; policy?: PasswordPolicyControl['value'] }> {
  const client = new Client({ url });
  const control = new PasswordPolicyControl();
  try {
    await client.bind(name, password, control);
    return { policy: control.value };
  } catch (err) {
    if (!(err instanceof ResultCodeError)) throw err;
    return { error: err, policy: control.value };
  } finally {
    await client.unbind();
  }
}
