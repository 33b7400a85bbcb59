import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * An event a projection could not apply, parked with the reason instead of blocking the
 * stream or vanishing. Unique per (projection, sequence), so a redelivery parks it once.
 */
@Entity({ name: 'projection_dead_letters' })
@Unique('projection_dead_letters_position', ['projection', 'sequence'])
export class DeadLetterEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  projection!: string;

  /** JetStream stream sequence of the parked message. */
  @Column({ type: 'bigint' })
  sequence!: string;

  @Column({ type: 'text' })
  subject!: string;

  @Column({ type: 'text', name: 'event_id', nullable: true })
  eventId!: string | null;

  @Column({ type: 'text', name: 'event_type', nullable: true })
  eventType!: string | null;

  /** Stable error code (`VALIDATION_FAILED`, `UNKNOWN_EVENT_TYPE`, `INTERNAL` …). */
  @Column({ type: 'text', name: 'error_code' })
  errorCode!: string;

  @Column({ type: 'text' })
  reason!: string;

  /** The raw message body, as received. */
  @Column({ type: 'text' })
  payload!: string;

  @CreateDateColumn({ type: 'timestamptz', name: 'parked_at' })
  parkedAt!: Date;
}
