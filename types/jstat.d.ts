// jstat ships no type declarations; only the parts this project uses are declared.
// The package is CommonJS: import it as `import jStat from 'jstat'`.
declare module 'jstat' {
  interface ContinuousDistribution {
    pdf(x: number, ...params: number[]): number;
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
  }
  const jStat: {
    normal: ContinuousDistribution;
    studentt: ContinuousDistribution;
    chisquare: ContinuousDistribution;
    beta: ContinuousDistribution & { mean(a: number, b: number): number };
    gammaln(x: number): number;
    betaln(a: number, b: number): number;
    betafn(a: number, b: number): number;
    ibeta(x: number, a: number, b: number): number;
    ibetainv(p: number, a: number, b: number): number;
    [key: string]: unknown;
  };
  export default jStat;
}
