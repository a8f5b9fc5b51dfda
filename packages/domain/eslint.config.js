import { domainConfig } from '../../eslint.shared.js';

export default domainConfig;
