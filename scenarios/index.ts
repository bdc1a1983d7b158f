/**
 * scenarios/ — what-if files (lab + intent + traffic + event timeline + assertions) and their runner.
 * The runner arrives with the scenarios issue; this folder holds its public surface.
 */
export {};
