import type { NotificationJob } from '@storefront/contracts';
import { FieldCipher } from '@storefront/redis-kit';

/**
 * The personal part of a `notifications` job, sealed before the job reaches Redis: the
 * message a customer is sent (in a shop that mails or texts, its address would ride in the
 * same envelope). BullMQ keeps job data in Redis while the job waits, for an hour after it
 * completes and for good when it dead-letters; sealed, Redis, its replicas, its AOF and
 * anyone who can read the queue see only `fe1.<key id>.…`. The customer id stays in clear:
 * it is a pseudonymous id that already keys rate limits, idempotency records and the job id.
 *
 * Each message is sealed for its job (cause event + customer), so it opens for no other.
 * Jobs queued before sealing existed carry plain text and are read as they are.
 */
export class NotificationSealing {
  constructor(private readonly cipher: FieldCipher) {}

  /** The job as producers add it: message sealed under the current key. */
  seal(job: NotificationJob): NotificationJob {
    if (FieldCipher.isSealed(job.data.message)) return job;
    return { ...job, data: { ...job.data, message: this.cipher.seal(job.data.message, contextOf(job)) } };
  }

  /** The job as the worker delivers it: message opened (throws redis-kit's FieldOpenError if it cannot be). */
  open(job: NotificationJob): NotificationJob {
    if (!FieldCipher.isSealed(job.data.message)) return job;
    return { ...job, data: { ...job.data, message: this.cipher.open(job.data.message, contextOf(job)) } };
  }

  /** The job with its message under the current key (a dead letter re-driven after a rotation), or `undefined` if it already is. */
  reseal(job: NotificationJob): NotificationJob | undefined {
    const { message } = job.data;
    const resealed = FieldCipher.isSealed(message)
      ? this.cipher.reseal(message, contextOf(job))
      : this.cipher.seal(message, contextOf(job));
    return resealed === message ? undefined : { ...job, data: { ...job.data, message: resealed } };
  }

  /** The key id a job's message is sealed under (`null`: plain text). */
  static keyIdOf(job: NotificationJob): string | null {
    return FieldCipher.keyIdOf(job.data.message) ?? null;
  }
}

const contextOf = (job: NotificationJob) => `notification:${job.data.causeEventId}:${job.data.customerId}`;
