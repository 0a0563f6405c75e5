// Random container names in Docker's adjective_surname style.
import { randomInt } from 'node:crypto';

const LEFT = ['admiring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming',
  'clever', 'compassionate', 'competent', 'confident', 'cool', 'cranky', 'crazy', 'dazzling', 'determined', 'distracted',
  'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'flamboyant',
  'focused', 'friendly', 'frosty', 'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hardcore', 'heuristic',
  'hopeful', 'hungry', 'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind',
  'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty',
  'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky',
  'quizzical', 'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic',
  'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant',
  'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen'];
const RIGHT = ['albattani', 'allen', 'archimedes', 'ardinghelli', 'babbage', 'banach', 'bardeen', 'bartik', 'bell',
  'bhabha', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown', 'carson', 'cerf',
  'chandrasekhar', 'chaum', 'clarke', 'colden', 'cori', 'curie', 'darwin', 'davinci', 'dijkstra', 'dubinsky', 'easley',
  'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo',
  'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hermann', 'hodgkin', 'hopper', 'hypatia',
  'jackson', 'jang', 'jennings', 'johnson', 'kalam', 'kapitsa', 'keller', 'kepler', 'knuth', 'kowalevski', 'lalande',
  'lamarr', 'leakey', 'leavitt', 'lovelace', 'lumiere', 'mahavira', 'margulis', 'mayer', 'mccarthy', 'mclean',
  'meitner', 'mendel', 'merkle', 'morse', 'napier', 'newton', 'nobel', 'noether', 'pare', 'pascal', 'pasteur', 'perlman',
  'pike', 'poincare', 'ptolemy', 'raman', 'ramanujan', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shaw', 'sinoussi',
  'stonebraker', 'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'wescoff', 'wiles', 'wilson',
  'wing', 'wozniak', 'wright', 'yalow', 'yonath'];

export function randomName(taken: (n: string) => boolean): string {
  for (let i = 0; ; i++) {
    let n = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    if (i > 5) n += randomInt(10);
    if (!taken(n)) return n;
  }
}

export const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
