import { useSatchel } from '@satchel/react';
import { useState } from 'react';

/** Registers the device with the enrolment token from `?enrol=`; the status hook then shows the rest. */
export function Enrol() {
  const satchel = useSatchel();
  const [error, setError] = useState<string | null>(null);
  const enrolment = new URL(location.href).searchParams.get('enrol');
  if (enrolment === null) return <p>Open this page once with ?enrol=&lt;enrolment token&gt;</p>;
  const enrol = () =>
    satchel
      .register(enrolment, { name: 'React player', platform: 'web' })
      .catch((e: Error) => setError(e.message));
  return (
    <p>
      <button type="button" onClick={enrol}>
        Enrol this device
      </button>
      {error !== null && <span role="alert"> {error}</span>}
    </p>
  );
}
