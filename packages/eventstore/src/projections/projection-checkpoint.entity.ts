import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** How far a projection has applied its stream; written in the same transaction as its rows. */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpointEntity {
  @PrimaryColumn({ type: 'text' })
  projection!: string;

  /** The JetStream stream sequence of the last applied (or skipped, or parked) event. */
  @Column({ type: 'bigint' })
  sequence!: string;

  @UpdateDateColumn({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}
