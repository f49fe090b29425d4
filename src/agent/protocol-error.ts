/** The host broke the line protocol (or gave unusable settings): the agent says so in one `error` line and exits 2. */
export class AgentProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentProtocolError';
  }
}
