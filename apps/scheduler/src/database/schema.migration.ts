import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { schedulerTables } from './tables.js';

/** Creates the scheduler's tables in its schema. */
export class SchedulerSchema1798761600000 implements MigrationInterface {
  name = 'SchedulerSchema1798761600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
    const t = schedulerTables(schema);
    await queryRunner.query(`create table ${t.miners} (
      hotkey text primary key, netuid int not null, uid int, coldkey text, axon_ip text, axon_port int,
      registered boolean not null, updated_block bigint not null)`);
    await queryRunner.query(`create table ${t.instances} (
      instance_id text primary key, deployment_id text not null, generation int not null,
      miner_hotkey text not null, state text not null, gpu_type text not null, gpu_count int not null,
      gpus jsonb not null, endpoint text, placed_at timestamptz not null, ready_at timestamptz,
      draining_at timestamptz, ended_at timestamptz, reason text)`);
    await queryRunner.query(`create index scheduler_instances_deployment on ${t.instances} (deployment_id)`);
    await queryRunner.query(
      `create index scheduler_instances_live on ${t.instances} (state) where ended_at is null`,
    );
    await queryRunner.query(`create table ${t.minerStatus} (
      hotkey text primary key, status text not null, last_seen_at timestamptz, consecutive_failures int not null,
      capacity jsonb, last_error text, observed_at timestamptz not null)`);
    await queryRunner.query(`create table ${t.gpuBilling} (
      instance_id text primary key, deployment_id text not null, account_id text not null, gpu_type text not null,
      charged_intervals int not null, charged_gpu_seconds bigint not null, refused_gpu_seconds bigint not null,
      final boolean not null, last_error text, updated_at timestamptz not null)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
    const t = schedulerTables(schema);
    for (const table of [t.gpuBilling, t.minerStatus, t.instances, t.miners]) {
      await queryRunner.query(`drop table if exists ${table}`);
    }
  }
}
